"""A 1 GiB request body is refused early, without the server reading it into memory.

gunicorn serves the app (one worker, as in production) with ``serving.max_upload_mb: 8``. A raw socket streams a
1 GiB CSV, generated block by block and never held whole, to the API and to the upload form, with and without a
Content-Length; it stops sending as soon as the server answers. Checked: the answer is a 413, the server took a
small fraction of the gigabyte, the worker's resident memory stayed within a small margin of its size before, and
the worker still predicts afterwards.

A CSV body answered as CSV is streamed instead (serving/streaming.py): half of one is sent, its first answered rows
come back before the rest is sent, so the worker never waited for (nor held) the whole body.
"""

from __future__ import annotations

import io
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import psutil
import pytest
import requests
from bench.load_test import Served, gunicorn, write_config
from tests.serving.conftest import Bundle

from adaptml.registry import Registry
from adaptml.signing import Keys

pytestmark = pytest.mark.slow

GIB = 1 << 30
BLOCK = 1 << 20
LIMIT_MB = 8
ROW = b"50.5,2,paris,2023-02-01\n"
BOUNDARY = "adaptml-big-stream"
RSS_MARGIN_MB = 120  # the 8 MB body, its decoded text and a parsed frame, far below the 1 GiB sent


@pytest.fixture(scope="module")
def served(s3_client: Any, regression: Bundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from adaptml.storage import Storage

    storage = Storage(s3_client)
    storage.ensure_bucket("big-stream")
    keys = Keys.generate()
    registry = Registry("s3://big-stream/registry", "homes", storage=storage, keys=keys)
    registry.publish("v1", regression.files, regression.metadata)
    workdir = tmp_path_factory.mktemp("big-stream")
    config = write_config(workdir / "config.yaml", str(registry.root), project="homes", max_upload_mb=LIMIT_MB)
    with gunicorn(config, keys=keys, workers=1, threads=2, workdir=workdir) as running:
        yield running


@dataclass(frozen=True)
class Outcome:
    status: int
    sent: int
    answer: bytes


def _blocks(prefix: bytes) -> Iterator[bytes]:
    """1 GiB of CSV, one MiB at a time: never more than one block exists."""
    rows = ROW * (BLOCK // len(ROW))
    sent = 0
    first = prefix + b"size,rooms,city,listed\n"
    while sent < GIB:
        block = (first + rows)[:BLOCK] if sent == 0 else rows
        sent += len(block)
        yield block


def stream(port: int, path: str, *, chunked: bool, multipart: bool) -> Outcome:
    """POST 1 GiB and stop sending once the server answers (or stops reading); return its status."""
    prefix = b""
    content_type = "text/csv"
    if multipart:
        content_type = f"multipart/form-data; boundary={BOUNDARY}"
        prefix = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'.encode()
        prefix += b"Content-Type: text/csv\r\n\r\n"
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {GIB}"
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n{length}\r\n\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        sock.settimeout(3)
        for block in _blocks(prefix):
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
            try:
                sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break  # the server stopped reading
            sent += len(block)
        answer = _read_answer(sock)
    return Outcome(int(answer.split(b" ", 2)[1]), sent, answer)


def _read_answer(sock: socket.socket) -> bytes:
    sock.settimeout(30)
    answer = b""
    while b"\r\n\r\n" not in answer:
        try:
            piece = sock.recv(65536)
        except ConnectionResetError:
            break
        if not piece:
            break
        answer += piece
    return answer


class PeakRss:
    """The worker's peak resident memory while a block runs, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.before = self.peak = self.process.memory_info().rss / 2**20
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss / 2**20)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(0.2)
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize(
    ("path", "chunked", "multipart"),
    [
        ("/api/v1/predict", False, False),
        ("/api/v1/predict", True, False),
        ("/api/v1/predict", True, True),
        ("/upload", False, True),
        ("/upload", True, True),
        ("/invocations", True, False),
    ],
    ids=["api-length", "api-chunked", "api-multipart-chunked", "upload-length", "upload-chunked", "mlflow-chunked"],
)
def test_a_gigabyte_is_refused_early_and_memory_stays_low(served, path, chunked, multipart):
    port = int(served.url.rsplit(":", 1)[1])
    [worker] = served.worker_pids()
    with PeakRss(worker) as rss:
        outcome = stream(port, path, chunked=chunked, multipart=multipart)
    print(f"{path} sent {outcome.sent / 2**20:.0f} MiB of 1024, RSS {rss.before:.0f} -> peak {rss.peak:.0f} MiB")
    assert outcome.status == 413, outcome.answer[:300]
    assert outcome.sent < GIB // 8, f"the server read {outcome.sent / 2**20:.0f} MiB before refusing"
    assert rss.peak - rss.before < RSS_MARGIN_MB, f"RSS grew from {rss.before:.0f} to {rss.peak:.0f} MiB"
    record = {"size": 50.5, "rooms": 2, "city": "paris", "listed": "2023-02-01"}
    after = requests.post(f"{served.url}/api/v1/predict", json=record, timeout=30)
    assert after.status_code == 200 and after.json()["row_count"] == 1
    assert served.worker_pids() == [worker], "the worker survived"


def test_the_limit_names_itself(served):
    body = b"size,rooms,city,listed\n" + ROW * ((LIMIT_MB << 20) // len(ROW) + 1)
    response = requests.post(f"{served.url}/api/v1/predict", data=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 413
    assert f"{LIMIT_MB:g} MB limit (serving.max_upload_mb)" in response.json()["message"]


STREAMED_ROWS = 150_000  # 3.6 MB: a few of the reader's 1 MiB batches, within the 8 MB limit
FIRST_PART_ROWS = 100_000


def _dechunk(body: bytes) -> bytes:
    """A chunked HTTP body's payload."""
    out, at = bytearray(), 0
    while True:
        end = body.index(b"\r\n", at)
        size = int(body[at:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += body[end + 2 : end + 2 + size]
        at = end + 2 + size + 2


def test_a_streamed_upload_is_answered_while_it_arrives(served):
    """Half the body sent, the answer's first rows arrive; only then the rest is sent. Every row is answered."""
    port = int(served.url.rsplit(":", 1)[1])
    head = (
        f"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/csv\r\nAccept: text/csv\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    parts = [b"size,rooms,city,listed\n" + ROW * FIRST_PART_ROWS, ROW * (STREAMED_ROWS - FIRST_PART_ROWS)]
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head.encode() + f"{len(parts[0]):x}\r\n".encode() + parts[0] + b"\r\n")
        early = b""
        while early.count(b"\n") < 20:  # the status line, the headers and the first answered rows
            piece = sock.recv(65536)
            assert piece, "the server closed the connection before answering"
            early += piece
        sock.sendall(f"{len(parts[1]):x}\r\n".encode() + parts[1] + b"\r\n0\r\n\r\n")
        answer = early
        while piece := sock.recv(1 << 20):
            answer += piece
    status, _, rest = answer.partition(b"\r\n")
    assert b" 200 " in status, answer[:300]
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in headers.lower()
    table = pd.read_csv(io.BytesIO(_dechunk(body)))
    assert len(table) == STREAMED_ROWS
    predictions = [column for column in table.columns if column.endswith("_prediction")]
    assert predictions and table[predictions].notna().all().all()
    assert (table["city"] == "paris").all()
