"""Bounded requests against a real gunicorn: size proportional to the row limit, shape and width checked unparsed.

Before (measured with the defaults, max_rows 1,000,000 and max_upload_mb 200): a 150 MiB one-record JSON list grew
the worker by 1.8 GiB and 8 s of CPU before a 400; 150 MiB of short CSV lines by 1 GiB before a 413; 5 MiB of
distinct JSON keys cost 9 s of CPU. Here gunicorn serves with ``max_rows: 2000``, so its byte limit is
2000 x 4 KiB + 1 MiB: each attack must get a 413 (or 400) whose JSON names the limit, while the worker's memory and
CPU barely move, and a well-formed batch still predicts.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
import requests
from bench.load_test import Served
from tests.reliability.served import published, served_gunicorn

pytestmark = pytest.mark.slow

MIB = 1 << 20
MAX_ROWS = 2_000
BYTE_LIMIT = MAX_ROWS * 4 * 1024 + MIB
RSS_MARGIN_MIB = 64  # far below what the attacks cost before
CPU_MARGIN_SECONDS = 3.0  # the keys attack alone took 9 s of CPU before
ROW = "50.5,2,paris,2023-02-01\n"
WIDTH = 16_384  # columns allowed per record: four times the model's, at least 16,384


@pytest.fixture(scope="module")
def served(s3_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    registry = published(s3_client, "request-limits")
    workdir = tmp_path_factory.mktemp("request-limits")
    with served_gunicorn(registry, workdir, workers=1, threads=2, max_rows=MAX_ROWS, max_upload_mb=200) as running:
        yield running


class Worker:
    """The gunicorn worker's resident memory (sampled around a request) and CPU time."""

    def __init__(self, served: Served) -> None:
        (pid,) = served.worker_pids()
        self.process = psutil.Process(pid)
        self.rss, self.cpu = self.process.memory_info().rss, sum(self.process.cpu_times()[:2])

    def growth_mib(self) -> float:
        return (self.process.memory_info().rss - self.rss) / MIB

    def cpu_seconds(self) -> float:
        return sum(self.process.cpu_times()[:2]) - self.cpu


def _post(served: Served, body: bytes, content_type: str) -> tuple[requests.Response, Worker]:
    worker = Worker(served)
    answer = requests.post(
        f"{served.url}/api/v1/predict", data=body, headers={"Content-Type": content_type}, timeout=120
    )
    print(
        f"{len(body) / MIB:.1f} MiB {content_type}: {answer.status_code}, worker +{worker.growth_mib():.0f} MiB, "
        f"{worker.cpu_seconds():.2f} s CPU: {answer.text[:160]}"
    )
    return answer, worker


def _declared_but_not_sent(port: int, length: int) -> tuple[int, bytes]:
    """Declare a ``length``-byte body, send up to 1 MiB of it, and read the answer the server gives without the rest.

    The server may answer and close before the MiB is through: the client then stops sending (a broken pipe or a
    reset on send is that early answer, not a failure) and reads what came back.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = "POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
        sock.sendall(f"{head}Content-Length: {length}\r\nConnection: close\r\n\r\n".encode())
        body = b"size,rooms,city,listed\n" + ROW.encode() * (MIB // len(ROW))
        for start in range(0, len(body), 64 * 1024):
            if select.select([sock], [], [], 0)[0]:
                break  # the answer has come: the server will not read the rest
            try:
                sock.sendall(body[start : start + 64 * 1024])
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            assert answer, "the server reset the connection without an answer"
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def test_a_150_mib_declared_body_is_refused_from_its_content_length(served: Served):
    worker = Worker(served)
    status, body = _declared_but_not_sent(int(served.url.rsplit(":", 1)[1]), 150 * MIB)
    assert status == 413, body
    error = json.loads(body)
    assert error["details"] == {"limit": "request_bytes", "request_bytes": BYTE_LIMIT}
    assert f"{BYTE_LIMIT:,} bytes" in error["message"] and "serving.max_rows" in error["message"]
    assert worker.growth_mib() < RSS_MARGIN_MIB


def test_a_one_record_list_under_the_byte_limit_is_refused_unparsed(served: Served):
    body = ('{"size": [' + ",".join(["1.5"] * (7 * MIB // 4)) + "]}").encode()  # 7 MiB in one record
    answer, worker = _post(served, body, "application/json")
    assert answer.status_code == 413 and answer.json()["details"]["limit"] == "record_bytes"
    assert worker.growth_mib() < RSS_MARGIN_MIB and worker.cpu_seconds() < CPU_MARGIN_SECONDS


def _keys(count: int, start: int = 0) -> str:
    return "{" + ",".join(f'"k{i:09d}":1' for i in range(start, start + count)) + "}"


@pytest.mark.parametrize(("records", "limit"), [(1, "record_bytes"), (10, "columns")], ids=["one", "spread"])
def test_five_mib_of_json_keys_are_refused_unparsed(served: Served, records: int, limit: str):
    per_record = 5 * MIB // 14 // records  # in one record, or spread over 10 records of ~0.5 MiB each
    body = ("[" + ",".join(_keys(per_record, n * per_record) for n in range(records)) + "]").encode()
    answer, worker = _post(served, body, "application/json")
    assert answer.status_code == 413, answer.text
    assert answer.json()["details"]["limit"] == limit
    if limit == "columns":
        assert answer.json()["details"]["columns"] == WIDTH and "too wide" in answer.json()["message"]
    assert worker.growth_mib() < RSS_MARGIN_MIB and worker.cpu_seconds() < CPU_MARGIN_SECONDS


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        (",".join(f"c{i}" for i in range(WIDTH + 1)) + "\n" + ",".join(["1"] * (WIDTH + 1)) + "\n", "columns"),
        ("size,rooms,city,listed\n" + ROW * (3 * MAX_ROWS), "rows"),
    ],
    ids=["wide_header", "too_many_lines"],
)
def test_csv_too_wide_or_too_long_is_refused_before_pandas(served: Served, body: str, limit: str):
    answer, _ = _post(served, body.encode(), "text/csv")
    assert answer.status_code == 413, answer.text
    assert answer.json()["details"].get("limit") in (limit, MAX_ROWS)


def test_a_long_key_is_a_400_and_a_full_batch_still_predicts(served: Served):
    long_key = json.dumps({"k" * 300: 1, "size": 50.5, "rooms": 2, "city": "paris", "listed": "2023-02-01"})
    answer, _ = _post(served, long_key.encode(), "application/json")
    assert answer.status_code == 400 and "longer than 256 characters" in answer.json()["message"]
    batch, _ = _post(served, ("size,rooms,city,listed\n" + ROW * MAX_ROWS).encode(), "text/csv")
    assert batch.status_code == 200 and len(batch.json()["rows"]) == MAX_ROWS
