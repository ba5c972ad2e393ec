"""The gunicorn worker of gunicorn_conf keeps connections alive: a kept-alive connection's next request is answered
whether it comes at once (served by the lingering thread) or later (handed back to the event loop), and a client
that closes its connection frees the thread. A real gunicorn with the shipped config serves a small echo app."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from bench.common import stop

from adaptml.s3server import free_port
from adaptml.serving.gunicorn_worker import LINGER_SECONDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("gunicorn-keepalive")
    chosen = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "--config", "python:adaptml.serving.gunicorn_conf", "--bind", f"127.0.0.1:{chosen}"]
    command += ["--workers", "1", "--threads", "2", "tests.serving.gunicorn_echo_app:app"]
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_CMD_ARGS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    env.update(ADAPTML_RESULTS_DIR=str(folder / "results"), ADAPTML_RUNTIME_DIR=str(folder / "runtime"))
    with (folder / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait(chosen, process)
            yield chosen
        finally:
            stop(process)


def _wait(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            requests.post(f"http://127.0.0.1:{port}/", data=b"up", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not answer")


def _post(connection: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes, bool]:
    connection.request("POST", "/", body=body, headers={"Content-Type": "text/plain"})
    response = connection.getresponse()
    return response.status, response.read(), response.will_close


def test_back_to_back_and_later_requests_share_one_connection(port: int):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        answers = [_post(connection, f"request {n}".encode()) for n in range(20)]
        socket_used = connection.sock
        time.sleep(LINGER_SECONDS * 40)  # past the linger: the event loop holds the connection meanwhile
        answers.append(_post(connection, b"after a pause"))
        assert connection.sock is socket_used  # never reconnected: the server kept the connection throughout
    finally:
        connection.close()
    assert [status for status, _, _ in answers] == [200] * 21
    assert [body for _, body, _ in answers] == [f"request {n}".encode() for n in range(20)] + [b"after a pause"]
    assert not any(closing for _, _, closing in answers)


def test_a_client_that_closes_after_its_answer_leaves_the_worker_serving(port: int):
    for _ in range(5):  # more closed connections than the worker has threads
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        assert _post(connection, b"once")[:2] == (200, b"once")
        connection.close()
    fresh = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        assert _post(fresh, b"still here")[:2] == (200, b"still here")
    finally:
        fresh.close()
