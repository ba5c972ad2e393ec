"""Reload benchmark: how long from publishing a new version until every serving process answers with it.

As tests/reload/test_gunicorn_switch.py does, gunicorn runs ``adaptml.serving.wsgi:app`` with two worker processes
against the embedded S3 server, serving the trained hotel_rates version. Two paths, each timed over several
publishes: the notification path (S3 event -> SQS -> the Lambda handler run locally -> signed POST to one worker ->
its sibling through the runtime directory) with polling off, and ETag polling alone (every 2 s) with no notification.
Times come from the workers' own status files (``switched_at``). Results: bench/results/reload.json.

The notification path runs twice: republishing the same files (a new version whose models did not change: the
workers reuse the models they hold, by sha256), and with every model changed (each pickle gets a unique tag after
its STOP opcode, which unpickling ignores), so each worker must verify, unpickle and smoke-test every model.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import psutil
import yaml

from adaptml.registry import Registry
from adaptml.reload import handler as lambda_handler
from adaptml.reload.local import run_local
from adaptml.reload.runtime import read_statuses
from adaptml.s3server import free_port, running_s3
from adaptml.signing import INSECURE_ENV
from adaptml.storage import Storage
from bench.common import Options, run_part, show_table, stop, wait_ready
from bench.trained import ensure_version

WORKERS = 2
POLL_SECONDS = 2.0
SECRET = "bench-reload-secret"
PAUSE_SECONDS = 3.0  # between publishes: after a switch each worker derives and gates the new fast paths and ships
# them to its Dask workers in the background (1-2 s of CPU on a 2-core machine); versions published closer than that
# are timed against the previous version's background work (1 s apart: 1.2 s instead of 0.7 s with models changed)
READY_SECONDS = 600  # a loaded machine can take minutes to start two workers and their Dask clusters


@contextmanager
def gunicorn(registry: Registry, folder: Path, poll_seconds: float) -> Iterator[tuple[str, Path, Any]]:
    """gunicorn with WORKERS workers; yields its URL, runtime directory and process."""
    config = folder / f"config-{poll_seconds:g}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "project": registry.project,
                "registry": str(registry.root),
                "data": {"uri": f"s3://{registry.root.bucket}/data/unused.csv", "target": "unused"},
                "serving": {"poll_seconds": poll_seconds},
            }
        )
    )
    runtime = folder / f"runtime-{poll_seconds:g}"
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    env.update(ADAPTML_CONFIG=str(config), ADAPTML_RUNTIME_DIR=str(runtime), ADAPTML_RELOAD_SECRET=SECRET)
    env.update(GUNICORN_CMD_ARGS="", **{INSECURE_ENV: "1"})  # the bench publishes unsigned versions
    port = free_port()
    binary = Path(sys.executable).with_name("gunicorn")
    command = [str(binary), "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "adaptml.serving.wsgi:app"]
    with (folder / f"gunicorn-{poll_seconds:g}.log").open("wb") as log:
        master = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz", master, timeout=READY_SECONDS)
            yield f"http://127.0.0.1:{port}", runtime, master
        finally:
            stop(master)


def wait_all_on(runtime: Path, master: Any, version: str, timeout: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = {child.pid for child in psutil.Process(master.pid).children()}
        statuses = [s for s in read_statuses(runtime) if s["pid"] in pids]
        if len(statuses) == WORKERS and all(s.get("version") == version for s in statuses):
            return statuses
        time.sleep(0.01)
    raise RuntimeError(f"not every worker reached {version} within {timeout:.0f} s")


def changed_models(files: dict[str, bytes], tag: str) -> dict[str, bytes]:
    """The files with every model's pickle made unique: a tag after the pickle's STOP opcode (ignored by unpickling)."""
    return {
        path: data + f"#{tag}".encode() if path.startswith("models/") and path.endswith(".pkl") else data
        for path, data in files.items()
    }


def publish_rounds(
    registry: Registry,
    files: dict[str, bytes],
    metadata: dict[str, Any],
    runtime: Path,
    master: Any,
    tag: str,
    rounds: int,
    *,
    change_models: bool = False,
) -> list[dict[str, Any]]:
    """Publish ``rounds`` new versions one after another; time each until all workers serve it."""
    results = []
    for index in range(rounds):
        version = f"bench-{tag}-{index + 1}"
        published_files = changed_models(files, version) if change_models else files
        started = time.time()
        registry.publish(version, published_files, metadata)
        published = time.time()
        statuses = wait_all_on(runtime, master, version)
        first, last = min(s["switched_at"] for s in statuses), max(s["switched_at"] for s in statuses)
        announced = _announced_at(runtime)
        results.append(
            {
                "version": version,
                "publish_s": round(published - started, 3),
                "announced_after_latest_s": round(announced - published, 3) if announced > published else None,
                "first_worker_after_latest_s": round(first - published, 3),
                "serving_after_latest_s": round(last - published, 3),
                "serving_after_publish_start_s": round(last - started, 3),
                "reasons": sorted({str(s.get("reason")) for s in statuses}),
            }
        )
        time.sleep(PAUSE_SECONDS)
    return results


def _announced_at(runtime: Path) -> float:
    """When the notified worker told its siblings (the notification's arrival at the app); 0 if never."""
    try:
        return float(json.loads((runtime / "notified.json").read_text(encoding="utf-8"))["announced_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    after = [r["serving_after_latest_s"] for r in rounds]
    return {
        "rounds": rounds,
        "median_after_latest_s": round(statistics.median(after), 3),
        "median_first_worker_after_latest_s": round(
            statistics.median(r["first_worker_after_latest_s"] for r in rounds), 3
        ),
        "median_announced_after_latest_s": _median([r["announced_after_latest_s"] for r in rounds]),
        "max_after_latest_s": round(max(after), 3),
        "median_publish_s": round(statistics.median(r["publish_s"] for r in rounds), 3),
    }


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


def run(options: Options) -> dict[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    rounds = options.pick(5, 2)
    with running_s3(export=True), tempfile.TemporaryDirectory() as workdir:
        storage = Storage()
        registry, version = ensure_version("hotel_rates", storage, reuse=options.reuse_models)
        loaded = registry.load(version)
        files = loaded.files
        metadata = {
            k: v for k, v in loaded.manifest.items() if k not in ("project", "version", "published_at", "files")
        }
        folder = Path(workdir)
        with gunicorn(registry, folder, poll_seconds=0) as (url, runtime, master):
            os.environ.update(ADAPTML_RELOAD_SECRET=SECRET, ADAPTML_REGISTRY_PREFIX=registry.root.key)
            lambda_handler.reset_clients()
            stop_runner = threading.Event()
            runner = threading.Thread(
                target=run_local,
                args=("bench-reload",),
                kwargs={
                    "bucket": registry.root.bucket,
                    "prefix": registry.root.key,
                    "targets": [url],
                    "stop": stop_runner,
                    "sqs_client": boto3.session.Session().client("sqs"),
                    "storage_client": storage.client,
                    "console": _Quiet(),
                },
                daemon=True,
            )
            runner.start()
            try:
                time.sleep(2.0)  # the runner configures the bucket and starts long-polling
                notified = summary(publish_rounds(registry, files, metadata, runtime, master, "notified", rounds))
                changed = summary(
                    publish_rounds(registry, files, metadata, runtime, master, "changed", rounds, change_models=True)
                )
            finally:
                stop_runner.set()
                runner.join(timeout=10)
        with gunicorn(registry, folder, poll_seconds=POLL_SECONDS) as (_, runtime, master):
            polled = summary(publish_rounds(registry, files, metadata, runtime, master, "polled", rounds))
    return {
        "version": {"dataset": "hotel_rates", "files": len(files), "mb": round(sum(map(len, files.values())) / 1e6, 1)},
        "workers": WORKERS,
        "pause_between_publishes_s": PAUSE_SECONDS,
        "notification_path": notified,
        "notification_path_models_changed": changed,
        "polling_path": {**polled, "poll_seconds": POLL_SECONDS},
    }


class _Quiet:
    """A console for the local runner that keeps its per-message lines out of the benchmark's table."""

    def print(self, *args: Any, **kwargs: Any) -> None:
        return None


def report(results: dict[str, Any]) -> None:
    rows = []
    for label, key in (
        ("notification (S3 -> SQS -> handler -> POST)", "notification_path"),
        ("notification, every model changed", "notification_path_models_changed"),
        (f"polling every {POLL_SECONDS:g} s", "polling_path"),
    ):
        part = results[key]
        rows.append(
            [
                label,
                part["median_announced_after_latest_s"],
                part["median_first_worker_after_latest_s"],
                part["median_after_latest_s"],
                part["max_after_latest_s"],
                part["median_publish_s"],
            ]
        )
    show_table(
        f"reload: LATEST written -> all {results['workers']} gunicorn workers serving it "
        f"({results['version']['mb']} MB version, {len(results['notification_path']['rounds'])} publishes each)",
        ["path", "notified s", "first worker s", "median s", "max s", "publish itself s"],
        rows,
    )


def main(options: Options | None = None) -> None:
    print(f"wrote {run_part('reload', options, run, report)}")


if __name__ == "__main__":
    main()
