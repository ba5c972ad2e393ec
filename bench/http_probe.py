"""One record, every model, over HTTP: a small side-by-side probe of gunicorn with one keep-alive client.

    python -m bench.http_probe [--requests 1000] [--baseline-src /work/main/src]

Serves the bench's adult version (bench/trained.py) from gunicorn (2 workers, 1 thread each, as ``bench serve``)
and posts one JSON record per request over one kept-alive connection. With ``--baseline-src`` a second gunicorn
runs another checkout's code (``PYTHONPATH``) on the same version, and the two are asked in turn, request by
request, so both see the same machine load; the best model's pickled Pipeline predicting the same record
in-process is timed in between, for the ratio the serving goal is stated in. Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from adaptml.datasets import read_bundled
from adaptml.s3server import running_s3
from adaptml.storage import Storage
from bench.common import ROOT, show_table, summarize_ms
from bench.load_test import Served, gunicorn, write_config
from bench.trained import config_for, ensure_version

DATASET = "adult"
WORKERS = 2
WARMUP = 50
PATH = "/api/v1/predict"


class KeepAliveClient:
    """One HTTP/1.1 connection, kept alive, posting the same JSON body."""

    def __init__(self, url: str, body: bytes) -> None:
        parsed = urlparse(url)
        self.connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
        self.body = body
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def post(self) -> bytes:
        self.connection.request("POST", PATH, body=self.body, headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:300]!r}")
        return data


@contextmanager
def _served(config: Path, workdir: Path, source: Path | None) -> Iterator[Served]:
    """gunicorn on ``config``, importing ``source`` (a ``src`` directory) first when given."""
    workdir.mkdir(parents=True, exist_ok=True)
    before = os.environ.get("PYTHONPATH")
    if source is not None:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(source), str(ROOT)])
    try:
        starter = gunicorn(config, workers=WORKERS, threads=1, workdir=workdir)
        served = starter.__enter__()
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before
    try:
        _wait_fast_paths(served)
        yield served
    finally:
        starter.__exit__(None, None, None)


def _wait_fast_paths(served: Served, timeout: float = 120) -> None:
    """Until every worker's models say whether their fast path is on (it is derived after the first load)."""
    client = KeepAliveClient(served.url, b"")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.connection.request("GET", "/api/v1/models")
        body = json.loads(client.connection.getresponse().read())
        models = body.get("models") or []
        pending = [m for m in models if "not derived yet" in str((m.get("fast_path") or {}).get("reason"))]
        if models and not pending:
            return
        time.sleep(0.5)


def _interleaved(calls: dict[str, Callable[[], Any]], count: int) -> dict[str, dict[str, float]]:
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(WARMUP):
        for call in calls.values():
            call()
    for _ in range(count):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            timings[name].append((time.perf_counter() - started) * 1000)
    return {name: summarize_ms(values) for name, values in timings.items()}


def probe(count: int, baseline: Path | None) -> dict[str, Any]:
    features = read_bundled(DATASET).drop(columns=[config_for(DATASET).data.target])
    frame = features.head(1)
    body = json.dumps(json.loads(frame.to_json(orient="records"))[0]).encode()
    with running_s3(export=True), tempfile.TemporaryDirectory(prefix="adaptml-http-probe-") as folder:
        registry, version = ensure_version(DATASET, Storage(), reuse=True)
        published = registry.load(version)
        workdir = Path(folder)
        config = write_config(workdir / "serve.yaml", str(registry.root), project=registry.project)
        with ExitStack() as stack:
            servers = {"this tree": stack.enter_context(_served(config, workdir / "this", ROOT / "src"))}
            if baseline is not None:
                servers[f"baseline ({baseline})"] = stack.enter_context(_served(config, workdir / "base", baseline))
            calls: dict[str, Callable[[], Any]] = {}
            for name, served in servers.items():
                calls[f"HTTP, all models, {name}"] = KeepAliveClient(served.url, body).post
            answer = json.loads(KeepAliveClient(servers["this tree"].url, body).post())
            best = answer["models"][0]["name"]
            pipeline = pickle.loads(published.files[f"models/{best}.pkl"])
            calls[f"pickled Pipeline in-process, best ({best})"] = lambda: pipeline.predict(frame)
            timings = _interleaved(calls, count)
    return {"version": version, "best": best, "requests": count, "timings": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--baseline-src", type=Path, default=None, help="another checkout's src/ to compare with")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still stops the gunicorns it started
    result = probe(args.requests, args.baseline_src)
    timings = result["timings"]
    pickled = next(v["p50_ms"] for k, v in timings.items() if k.startswith("pickled"))
    rows = [[name, v["p50_ms"], v["p90_ms"], round(v["p50_ms"] / pickled, 3)] for name, v in timings.items()]
    show_table(
        f"one record, {result['requests']} requests each, interleaved (load {os.getloadavg()[0]:.1f})",
        ["path", "p50 ms", "p90 ms", "x pickled best"],
        rows,
    )


if __name__ == "__main__":
    main()
