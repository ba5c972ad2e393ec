"""The app's local Dask cluster: loopback only, no dashboard, and workers that do not hold the app's secrets.

Before, the LocalCluster's scheduler and dashboard listened on every interface and its worker processes inherited
the signing key, the reload secret and the AWS keys: a pickle run on a worker (the workers unpickle every model they
are shipped) could read them. The engine is started here exactly as ``adaptml serve`` starts it, with those
variables set in the serving process, and each worker reports its own environment, both as Python sees it and as
the kernel recorded it at exec (``/proc/self/environ``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import psutil
import pytest
import requests

from adaptml.serving.dask_engine import DaskEngine

SECRETS = {
    "ADAPTML_SIGNING_KEY": "signing-key-must-not-reach-workers",
    "ADAPTML_RELOAD_SECRET": "reload-secret-must-not-reach-workers",
    "AWS_ACCESS_KEY_ID": "AKIAWORKERSHOULDNOTSEE",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-must-not-reach-workers",
    "AWS_SESSION_TOKEN": "aws-session-token-must-not-reach-workers",
}


def _worker_view(dask_worker: Any) -> dict[str, Any]:
    """Run on a worker (Dask passes it in): its environment, and the one the kernel recorded at exec."""
    raw = Path("/proc/self/environ").read_bytes() if Path("/proc/self/environ").exists() else b""
    return {"environ": dict(os.environ), "raw": raw, "address": dask_worker.address}


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[DaskEngine]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    engine = DaskEngine(None, n_workers=2)
    try:
        yield engine
    finally:
        engine.close()


def test_local_workers_hold_none_of_the_apps_secrets(engine: DaskEngine):
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import the tests
    views = engine.client().run(_worker_view)
    assert len(views) == 2
    for view in views.values():
        leaked = [name for name in SECRETS if name in view["environ"]]
        assert not leaked, leaked
        assert not any(value.encode() in view["raw"] for value in SECRETS.values()), "a secret is in /proc/environ"
        assert view["environ"].get("PATH"), "the workers keep what they need to run"


def test_the_local_cluster_listens_on_loopback_only_without_a_dashboard(engine: DaskEngine):
    client = engine.client()
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    info = client.scheduler_info()
    assert set(info["workers"]) and all(address.startswith("tcp://127.0.0.1:") for address in info["workers"])
    workers = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
    tree = {*workers, *(worker.parent() for worker in workers)}  # the worker processes and their nannies
    for process in tree:
        listening = [c.laddr for c in process.net_connections("inet") if c.status == psutil.CONN_LISTEN]
        assert listening and all(address.ip in ("127.0.0.1", "::1") for address in listening), (process, listening)
    scheduler_ports = {int(client.scheduler.address.rsplit(":", 1)[1]), info["services"]["dashboard"]}
    here = psutil.Process().net_connections("inet")  # this process also runs the test session's other servers
    assert {c.laddr.ip for c in here if c.status == psutil.CONN_LISTEN and c.laddr.port in scheduler_ports} == {
        "127.0.0.1"
    }
    dashboard = requests.get(f"http://127.0.0.1:{info['services']['dashboard']}/status", timeout=5)
    assert dashboard.status_code == 404, "the dashboard's pages are not served"
