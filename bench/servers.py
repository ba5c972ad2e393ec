"""The servers the benchmarks talk to over HTTP: ``adaptml serve`` and MLflow's scoring server, each a child process."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psutil
import requests
import yaml

from adaptml.registry import Registry
from adaptml.s3server import free_port
from bench.common import ROOT, stop, vm_kib, wait_ready
from bench.load_test import Served, wait_workers
from bench.venvs import PICKLE_RUNTIME, ensure_venv, pinned

MLFLOW_REQUIREMENTS = ["mlflow", *pinned(*PICKLE_RUNTIME)]


class KeepAliveClient:
    """One HTTP/1.1 connection, kept alive, posting the same JSON body to one path (a server that closes the
    connection after an answer gets a new one on the next request, as any client does)."""

    def __init__(self, url: str, path: str, body: bytes) -> None:
        parsed = urlparse(url)
        self.connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=60)
        self.path, self.body = path, body
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def post(self) -> bytes:
        try:
            data, status = self._send()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.connection.close()  # the server dropped the idle connection (its keep-alive timeout): reconnect
            data, status = self._send()
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {data[:300]!r}")
        return data

    def _send(self) -> tuple[bytes, int]:
        self.connection.request("POST", self.path, body=self.body, headers=self.headers)
        response = self.connection.getresponse()
        return response.read(), response.status

    def post_json(self) -> Any:
        return json.loads(self.post())


@dataclass(frozen=True)
class Server:
    """A running child server: its base URL and process."""

    url: str
    process: subprocess.Popen[bytes]

    def peak_rss_mb(self) -> float:
        return round(vm_kib(self.process.pid, "VmHWM") / 1024, 1)

    def rss_mb(self) -> float:
        return round(vm_kib(self.process.pid, "VmRSS") / 1024, 1)

    def dask_workers_peak_rss_mb(self) -> list[float]:
        """Peak RSS of the worker processes its LocalCluster spawned (not multiprocessing's resource tracker)."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        pids = [c.pid for c in children if "resource_tracker" not in " ".join(c.cmdline())]
        return [round(kib / 1024, 1) for pid in pids if (kib := vm_kib(pid, "VmHWM"))]


def serve_config(registry: Registry, folder: Path, **serving: Any) -> Path:
    path = folder / f"{registry.project}.yaml"
    config: dict[str, Any] = {
        "project": registry.project,
        "registry": str(registry.root),
        "data": {"uri": f"s3://{registry.root.bucket}/data/unused.csv", "target": "unused"},
    }
    if serving:
        config["serving"] = serving
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def _child_server(
    command: list[str], port: int, log: Path, ready_path: str, env: dict[str, str], *, group: bool = False
) -> Iterator[Server]:
    """Start ``command`` (listening on ``port``, output to ``log``), wait until ``ready_path`` answers, and stop it
    when the block ends; ``group`` runs it in a session of its own whose children are stopped too."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=group)
        server = Server(f"http://127.0.0.1:{port}", process)
        try:
            wait_ready(f"{server.url}{ready_path}", process)
            yield server
        finally:
            (_stop_group if group else stop)(process)


@contextmanager
def adaptml_server(config: Path, log: Path, *, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``adaptml serve`` (Flask's threaded server, as the README runs it) until the block ends."""
    port = free_port()
    command = [sys.executable, "-m", "adaptml.cli", "serve", "--config", str(config), "--port", str(port)]
    with _child_server(command, port, log, "/readyz", {**os.environ, **(env or {})}) as server:
        yield server


def mlflow_model_dir(pickled_model: bytes, folder: Path) -> tuple[Path, Path]:
    """Save a published model (its .pkl bytes) with mlflow.sklearn inside MLflow's own virtualenv.

    Returns the venv's python and the MLflow model directory.
    """
    python = ensure_venv("mlflow", MLFLOW_REQUIREMENTS)
    pickled, target = folder / "best.pkl", folder / "mlflow-model"
    pickled.write_bytes(pickled_model)
    script = ROOT / "bench" / "peer_mlflow.py"
    subprocess.run([str(python), str(script), str(pickled), str(target)], check=True, timeout=600)
    return python, target


@contextmanager
def mlflow_server(python: Path, model_dir: Path, log: Path) -> Iterator[Server]:
    """``mlflow models serve --env-manager local`` from MLflow's virtualenv until the block ends."""
    port = free_port()
    mlflow = python.with_name("mlflow")
    command = [str(mlflow), "models", "serve", "--env-manager", "local", "-m", str(model_dir), "-p", str(port)]
    command += ["-h", "127.0.0.1"]
    env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("VIRTUAL_ENV", None)
    with _child_server(command, port, log, "/ping", env, group=True) as server:
        yield server


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """MLflow runs its server (uvicorn/gunicorn) as a child: stop the whole session we started for it."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    stop(process)
    for child in children:
        try:
            child.terminate()
            child.wait(timeout=10)
        except psutil.NoSuchProcess:
            continue
        except psutil.TimeoutExpired:
            child.kill()


@contextmanager
def product_gunicorn(
    config: Path, *, workers: int, workdir: Path, threads: int | None = None, access_log: bool = True
) -> Iterator[Served]:
    """gunicorn as deployed: ``--config python:adaptml.serving.gunicorn_conf`` (the gthread-based
    ``DeadlineThreadWorker``, which keeps connections alive), ``workers`` x ``threads`` (the config's by default),
    on a free loopback port, in a process group of its own: what its workers start (a Dask LocalCluster's
    processes) is stopped with it.

    Unsigned versions are accepted (the benches publish unsigned ones); the version comes from ``config``."""
    from adaptml.s3server import free_port
    from adaptml.signing import INSECURE_ENV

    dropped = ("DASK_SCHEDULER_ADDRESS", "GUNICORN_CMD_ARGS", "ADAPTML_SIGNING_KEY")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(ADAPTML_CONFIG=str(config), ADAPTML_RUNTIME_DIR=str(workdir / "runtime"))
    env.update(ADAPTML_RESULTS_DIR=str(workdir / "results"), **{INSECURE_ENV: "1"})
    port = free_port()
    binary = Path(sys.executable).with_name("gunicorn")
    command = [str(binary), "--config", "python:adaptml.serving.gunicorn_conf", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers)] + (["--threads", str(threads)] if threads else [])
    if not access_log:
        command += ["--access-logfile", "/dev/null"]
    log_path = workdir / f"gunicorn-{port}.log"
    with log_path.open("wb") as log:
        master = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        served = Served(f"http://127.0.0.1:{port}", master, log_path)
        try:
            wait_workers(served, workers)
            yield served
        finally:
            stop(master)
            _stop_session(master.pid)


def _stop_session(session: int, grace: float = 10.0) -> None:
    """Terminate what is left of the process group ``session`` (the server's own, see ``start_new_session``)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(session, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(session, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def wait_fast_paths(served: Served, workers: int, timeout: float = 300) -> dict[str, Any]:
    """Poll /api/v1/models (a new connection each time, so every worker answers some) until every worker reports
    its fast paths derived; what the last answer said of each model's fast path."""
    deadline, body = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        answers = [requests.get(f"{served.url}/api/v1/models", timeout=10).json() for _ in range(4 * workers)]
        body = {m["name"]: m["fast_path"] for m in answers[-1]["models"]}
        if all(not (m["fast_path"]["reason"] or "").startswith("not derived") for a in answers for m in a["models"]):
            return body
        time.sleep(1)
    return body
