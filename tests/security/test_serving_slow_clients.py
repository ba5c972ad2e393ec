"""Slow clients against a real gunicorn started with adaptml.serving.gunicorn_conf: every health probe answers.

Before, two clients dribbling bytes stopped the sync setup for 37 s and both workers were killed and restarted; the
threaded Dockerfile setup (2 workers x 4 threads) lost 40-50 % of health probes. Here ``SLOW_CLIENTS`` connections
each send a request line and then one header byte every half second for ``DRIBBLE_SECONDS`` (bounded in count and
time), while /healthz is probed every 0.2 s: every probe must succeed, no worker may be restarted, and the worker's
header deadline must close every slow connection.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from bench.load_test import Served, wait_workers, write_config
from tests.reliability.served import KEYS, published

from adaptml.s3server import free_port
from adaptml.signing import VERIFY_KEY_ENV, env_values

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 12  # more than the 8 threads of the old Dockerfile setup, fewer than the 16 of gunicorn_conf
DRIBBLE_SECONDS = 16.0  # longer than the worker's 10 s header deadline
PROBE_EVERY = 0.2


@pytest.fixture(scope="module")
def served(s3_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """gunicorn with the shipped config module, its results and runtime dirs left for the config to make."""
    registry = published(s3_client, "slow-clients")
    workdir = tmp_path_factory.mktemp("slow-clients")
    config = write_config(workdir / "config.yaml", str(registry.root), project=registry.project)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "ADAPTML_", "DASK_", "XDG_"))}
    env.update(ADAPTML_CONFIG=str(config), WEB_CONCURRENCY="2")
    env[VERIFY_KEY_ENV] = env_values(KEYS)[VERIFY_KEY_ENV]  # the public half: the version is signed
    port = free_port()
    command = [str(Path(sys.executable).with_name("gunicorn")), "--config", "python:adaptml.serving.gunicorn_conf"]
    command += ["--bind", f"127.0.0.1:{port}", "adaptml.serving.wsgi:app"]
    log_path = workdir / "gunicorn.log"
    with log_path.open("wb") as log:
        master = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        running = Served(f"http://127.0.0.1:{port}", master, log_path)
        try:
            wait_workers(running, 2, 180)
            yield running
        finally:
            master.terminate()
            try:
                master.wait(timeout=60)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait()


def _slow_client(port: int, until: float, cut: list[float]) -> None:
    """A slow-loris: a request line, then one header byte every half second until ``until`` or until the server
    closes the connection (recorded in ``cut``, seconds after connecting)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        while time.monotonic() < until:
            if select.select([sock], [], [], 0)[0] and not sock.recv(1024):
                cut.append(time.monotonic() - started)
                return
            try:
                sock.sendall(b"a")
            except OSError:
                cut.append(time.monotonic() - started)
                return
            time.sleep(0.5)


def test_slow_clients_do_not_stop_health_probes_or_restart_workers(served: Served):
    port = int(served.url.rsplit(":", 1)[1])
    workers = served.worker_pids()
    until = time.monotonic() + DRIBBLE_SECONDS
    cut: list[float] = []
    slow = [threading.Thread(target=_slow_client, args=(port, until, cut), daemon=True) for _ in range(SLOW_CLIENTS)]
    for client in slow:
        client.start()
    time.sleep(1.0)  # every slow client is connected and holding its request open
    probes, failures = 0, []
    while time.monotonic() < until:
        probes += 1
        try:
            answer = requests.get(f"{served.url}/healthz", timeout=3)
            if answer.status_code != 200:
                failures.append(answer.status_code)
        except requests.RequestException as error:
            failures.append(type(error).__name__)
        time.sleep(PROBE_EVERY)
    for client in slow:
        client.join(timeout=15)
    print(
        f"{SLOW_CLIENTS} slow clients for {DRIBBLE_SECONDS:g} s: {probes - len(failures)}/{probes} probes answered; "
        f"{len(cut)} cut by the server after {sorted(round(seconds, 1) for seconds in cut)} s"
    )
    assert probes > 10 and not failures, failures
    assert len(cut) == SLOW_CLIENTS, "the header deadline closed every slow connection"
    assert served.worker_pids() == workers, "no worker was killed or restarted"
    assert "WORKER TIMEOUT" not in served.log.read_text()
