"""Issue 5, done-when 1: a new version is published while clients keep predicting against gunicorn workers.

gunicorn runs ``adaptml.serving.wsgi:app`` with three worker processes against the embedded S3 server. Clients
predict continuously; v2 is published. Checked: no request fails, every response is wholly v1 or wholly v2, and every
worker process ends up on v2 — through the notification path (S3 -> SQS -> local runner -> Lambda handler -> one
worker -> its siblings) with polling off, and through ETag polling alone with no notification. The switch times
are measured from the moment publishing started and printed (``pytest -s``) for the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
import requests
import yaml
from tests.reliability.faults import wait_until

from adaptml.registry import Registry
from adaptml.reload.local import run_local
from adaptml.reload.runtime import read_statuses
from adaptml.s3server import free_port
from adaptml.signing import Keys, env_values

from . import versions
from .conftest import SECRET

WORKERS = 3
KEYS = Keys.generate()
CLIENTS = 4
pytestmark = pytest.mark.slow


@dataclass
class Served:
    url: str
    master: subprocess.Popen[bytes]
    runtime_dir: Path

    def worker_pids(self) -> set[int]:
        return {child.pid for child in psutil.Process(self.master.pid).children()}

    def statuses(self) -> dict[int, dict[str, Any]]:
        pids = self.worker_pids()
        return {s["pid"]: s for s in read_statuses(self.runtime_dir) if s["pid"] in pids}

    def wait_all_on(self, version: str, timeout: float) -> dict[int, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statuses = self.statuses()
            if len(statuses) == WORKERS and all(s.get("version") == version for s in statuses.values()):
                return statuses
            assert self.master.poll() is None, "gunicorn exited"
            time.sleep(0.02)
        raise AssertionError(f"not every worker reached {version}: {self.statuses()}")


@pytest.fixture
def registry(storage, bucket) -> Registry:
    registry = Registry(f"s3://{bucket}/registry", "hotel-rates", storage=storage, keys=KEYS)  # as train signs
    versions.publish(registry, "v1", 1)
    return registry


@contextmanager
def _gunicorn(registry: Registry, tmp_path: Path, poll_seconds: float) -> Iterator[Served]:
    config = {
        "project": registry.project,
        "data": {"uri": f"s3://{registry.root.bucket}/data/unused.csv", "target": "price"},
        "registry": str(registry.root),
        "serving": {"poll_seconds": poll_seconds},
    }
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    runtime_dir = tmp_path / f"runtime-{poll_seconds}"
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    env.update(
        ADAPTML_CONFIG=str(config_path),
        ADAPTML_RUNTIME_DIR=str(runtime_dir),
        ADAPTML_RELOAD_SECRET=SECRET.decode(),
        ADAPTML_VERIFY_KEY=env_values(KEYS)["ADAPTML_VERIFY_KEY"],  # the workers hold the public key only
        GUNICORN_CMD_ARGS="",
    )
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "adaptml.serving.wsgi:app"]
    master = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", master, runtime_dir)
    try:
        served.wait_all_on("v1", timeout=120)
        yield served
    finally:
        master.terminate()
        try:
            master.wait(timeout=20)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()
        log.close()


class Clients:
    """Threads that keep predicting one record and record every outcome."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.outcomes: list[tuple[int, str | None, dict[str, float] | None]] = []
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(CLIENTS)]

    def _loop(self) -> None:
        session = requests.Session()
        for _ in range(20_000):  # bounded; stopped long before
            if self.stop.is_set():
                return
            try:
                response = session.post(f"{self.url}/api/v1/predict", json=versions.RECORD, timeout=30)
                body = response.json() if response.ok else {}
                version = body.get("version")
                predictions = body["rows"][0]["predictions"] if response.ok else None
                self.outcomes.append((response.status_code, version, predictions))
            except (requests.RequestException, ValueError, KeyError) as error:
                self.outcomes.append((0, repr(error), None))
            time.sleep(0.005)

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def _check_responses(clients: Clients, allowed: dict[str, float]) -> dict[str, int]:
    failures = [o for o in clients.outcomes if o[0] != 200]
    assert failures == [], failures[:5]
    counts: dict[str, int] = {}
    for _, version, predictions in clients.outcomes:
        assert version in allowed, version
        assert predictions == versions.expected(allowed[version]), (version, predictions)  # never a mix
        counts[version] = counts.get(version, 0) + 1
    return counts


def _report(path: str, started: float, published: float, statuses: dict[int, dict[str, Any]], counts: Any) -> None:
    switched = sorted(s["switched_at"] - started for s in statuses.values())
    print(
        f"\n[switch] {path}: publish took {published - started:.3f} s; workers on v2 after "
        + ", ".join(f"{t:.3f}" for t in switched)
        + f" s (from publish start); responses {counts}"
    )


def _publish_v2_under_load(served: Served, registry: Registry) -> tuple[float, float, dict[str, int], Any]:
    with Clients(served.url) as clients:
        deadline = time.monotonic() + 30
        while len(clients.outcomes) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.time()
        versions.publish(registry, "v2", 2)
        published = time.time()
        statuses = served.wait_all_on("v2", timeout=60)
        time.sleep(0.5)  # keep the load on after the switch
    counts = _check_responses(clients, {"v1": 1, "v2": 2})
    return started, published, counts, statuses


def test_switch_through_the_notification_path(registry, storage, bucket, tmp_path, handler_env):
    with _gunicorn(registry, tmp_path, poll_seconds=0) as served:
        handler_env([served.url])
        stop = threading.Event()
        sqs = boto3.session.Session().client("sqs")
        runner = threading.Thread(
            target=run_local,
            args=(f"switch-{bucket}",),
            kwargs={
                "bucket": bucket,
                "prefix": "registry",
                "stop": stop,
                "sqs_client": sqs,
                "storage_client": storage.client,
            },
            daemon=True,
        )
        runner.start()
        try:
            # until the runner has pointed the bucket's notifications at its queue: v2 published before that
            # sends no event (a fixed 1 s sleep lost that race on a loaded machine)
            notifications = storage.client.get_bucket_notification_configuration
            wait_until(
                lambda: bool(notifications(Bucket=bucket).get("QueueConfigurations")),
                60,
                what=f"the reload runner to configure notifications of {bucket}",
            )
            started, published, counts, statuses = _publish_v2_under_load(served, registry)
        finally:
            stop.set()
            runner.join(timeout=10)
        assert {s["reason"] for s in statuses.values()} == {"notified"}
        assert counts.get("v2", 0) > 0
        _report("notification", started, published, statuses, counts)


def test_switch_through_polling_alone(registry, tmp_path):
    poll_seconds = 2.0
    with _gunicorn(registry, tmp_path, poll_seconds=poll_seconds) as served:
        started, published, counts, statuses = _publish_v2_under_load(served, registry)
        reasons = {r for s in statuses.values() for r in str(s["reason"]).split(",")}
        assert "poll" in reasons and reasons <= {"poll", "notified"}  # the first to poll tells its siblings
        assert counts.get("v2", 0) > 0
        _report(f"poll every {poll_seconds:g} s", started, published, statuses, counts)
