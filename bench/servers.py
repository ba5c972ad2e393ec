"""The servers the benchmarks talk to over HTTP: ``adaptml serve`` and MLflow's scoring server, each a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml

from adaptml.registry import Registry
from adaptml.s3server import free_port
from bench.common import ROOT, stop, vm_kib, wait_ready
from bench.venvs import PICKLE_RUNTIME, ensure_venv, pinned

MLFLOW_REQUIREMENTS = ["mlflow", *pinned(*PICKLE_RUNTIME)]


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
