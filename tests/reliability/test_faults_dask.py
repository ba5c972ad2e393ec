"""A Dask scheduler that dies: batches fall back to direct prediction, the answer says so, and Dask is used again
once a scheduler is back on the same address.

A real ``dask scheduler`` and ``dask worker`` run as their own processes; the app's DaskEngine points at the
scheduler's address as DASK_SCHEDULER_ADDRESS would. Both are SIGKILLed between two batches.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.serving.conftest import Bundle, frame_to_csv, make_settings

from adaptml.registry import Registry
from adaptml.s3server import free_port
from adaptml.serving import create_app
from adaptml.serving.dask_engine import DaskEngine

from .faults import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow]

ROWS = 40  # above the Dask threshold of 10


@dataclass
class Cluster:
    """A scheduler and one worker, each a process of its own."""

    port: int
    processes: list[subprocess.Popen[bytes]]

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, port: int, log: Path) -> Cluster:
        dask = str(Path(sys.executable).with_name("dask"))
        with log.open("ab") as out:
            scheduler = subprocess.Popen(
                [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            worker = subprocess.Popen(
                [dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", "--no-dashboard", "--no-nanny"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        cluster = cls(port, [scheduler, worker])
        wait_until(cluster.has_worker, 90, interval=0.5, what="the Dask worker to register")
        return cluster

    def has_worker(self) -> bool:
        from distributed import Client

        try:
            with Client(self.address, timeout="3s", set_as_default=False) as client:
                return len(client.scheduler_info()["workers"]) >= 1
        except (OSError, TimeoutError):
            return False

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster.start(free_port(), tmp_path / "dask.log")
    yield running
    running.kill()


def _batch(client: Any, bundle: Bundle, path: str = "/api/v1/predict") -> Any:
    """POST a 40-row CSV, in a thread with a bound, so a hang fails the test instead of stalling the suite."""
    data = frame_to_csv(bundle.features.head(ROWS))
    found: list[Any] = []
    if path == "/upload":
        call = lambda: client.post(path, data={"file": (io.BytesIO(data), "batch.csv")})  # noqa: E731
    else:
        call = lambda: client.post(path, data=data, headers={"Content-Type": "text/csv"})  # noqa: E731
    thread = threading.Thread(target=lambda: found.append(call()), daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert found, "the request hung on the dead cluster"
    assert found[0].status_code == 200, found[0].get_data()[:300]
    return found[0]


def test_a_dead_scheduler_falls_back_to_direct_prediction_and_says_so(
    cluster: Cluster, registry: Registry, regression: Bundle, tmp_path: Path
):
    registry.publish("v1", regression.files, regression.metadata)
    engine = DaskEngine(cluster.address, connect_timeout=3, retry_after=2)
    app = create_app(make_settings(registry, tmp_path / "results", dask_threshold=10), registry=registry, dask=engine)
    client = app.test_client()
    try:
        on_dask = _batch(client, regression).get_json()
        assert on_dask["engine"] == "dask" and on_dask["warnings"] == []

        cluster.kill()
        started = time.perf_counter()
        fallback = _batch(client, regression).get_json()
        print(f"first batch after the scheduler died answered directly in {time.perf_counter() - started:.1f} s")
        assert fallback["engine"] == "direct" and fallback["error_count"] == on_dask["error_count"]
        assert "Dask cluster is unavailable" in fallback["warnings"][0]["message"]
        assert fallback["rows"] == on_dask["rows"], "the same predictions, computed directly"
        page = _batch(client, regression, "/upload").get_data(as_text=True)
        assert '<strong data-testid="engine">directly</strong>' in page
        assert "Dask cluster is unavailable" in page

        cluster.processes = Cluster.start(cluster.port, tmp_path / "again.log").processes  # back, same address
        wait_until(lambda: _batch(client, regression).get_json()["engine"] == "dask", 60, interval=1, what="Dask")
    finally:
        app.extensions["adaptml"].store.close()
        engine.close()
