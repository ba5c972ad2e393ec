"""One record, every model, over HTTP: a small side-by-side probe of gunicorn with one keep-alive client.

    python -m bench.http_probe [--requests 1000] [--baseline-src /work/main/src]

Serves the bench's adult version (bench/trained.py) from gunicorn as deployed (2 workers of the product's
gunicorn_conf, keep-alive; ``--worker sync`` adds sync workers, which close the connection after each request)
and posts one JSON record per request over one kept-alive connection. With ``--baseline-src`` a second gunicorn
runs another checkout's code (``PYTHONPATH``) on the same version, and the two are asked in turn, request by
request, so both see the same machine load; the best model's pickled Pipeline predicting the same record
in-process is timed in between, for the ratio the serving goal is stated in. Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
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

from adaptml.datasets import read_bundled
from adaptml.s3server import running_s3
from adaptml.storage import Storage
from bench.common import ROOT, show_table, summarize_ms
from bench.load_test import Served, gunicorn, write_config
from bench.servers import KeepAliveClient, product_gunicorn, wait_fast_paths
from bench.trained import config_for, ensure_version

DATASET = "adult"
WORKERS = 2
WARMUP = 50
PATH = "/api/v1/predict"


@contextmanager
def _served(config: Path, workdir: Path, source: Path | None, worker: str = "gthread") -> Iterator[Served]:
    """gunicorn on ``config``, importing ``source`` (a ``src`` directory) first when given: as deployed
    (``worker="gthread"``: the product's gunicorn_conf, keep-alive) or with sync workers (a connection per request)."""
    workdir.mkdir(parents=True, exist_ok=True)
    before = os.environ.get("PYTHONPATH")
    if source is not None:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(source), str(ROOT)])
    try:
        if worker == "sync":
            starter = gunicorn(config, workers=WORKERS, threads=1, workdir=workdir)
        else:
            starter = product_gunicorn(config, workers=WORKERS, workdir=workdir)
        served = starter.__enter__()
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before
    try:
        wait_fast_paths(served, WORKERS)
        yield served
    finally:
        starter.__exit__(None, None, None)


def _interleaved(calls: dict[str, Callable[[], Any]], count: int) -> dict[str, dict[str, float]]:
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(WARMUP):
        for call in calls.values():
            call()
    order = list(calls.items())
    for round_ in range(count):  # each round starts at the next call: none always follows the in-process one
        for name, call in order[round_ % len(order) :] + order[: round_ % len(order)]:
            started = time.perf_counter()
            call()
            timings[name].append((time.perf_counter() - started) * 1000)
    return {name: summarize_ms(values) for name, values in timings.items()}


class SessionClient:
    """A keep-alive ``requests.Session`` posting the same JSON body (what ``bench serve`` used before)."""

    def __init__(self, url: str, body: bytes) -> None:
        import requests

        self.session, self.url, self.body = requests.Session(), f"{url}{PATH}", body
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def post(self) -> bytes:
        response = self.session.post(self.url, data=self.body, headers=self.headers, timeout=30)
        response.raise_for_status()
        return response.content


def probe(count: int, baseline: Path | None, workers: list[str], session: bool) -> dict[str, Any]:
    features = read_bundled(DATASET).drop(columns=[config_for(DATASET).data.target])
    frame = features.head(1)
    body = json.dumps(json.loads(frame.to_json(orient="records"))[0]).encode()
    with running_s3(export=True), tempfile.TemporaryDirectory(prefix="adaptml-http-probe-") as folder:
        registry, version = ensure_version(DATASET, Storage(), reuse=True)
        published = registry.load(version)
        workdir = Path(folder)
        config = write_config(workdir / "serve.yaml", str(registry.root), project=registry.project)
        with ExitStack() as stack:
            servers: dict[str, Served] = {}
            for worker in workers:
                this = _served(config, workdir / f"this-{worker}", ROOT / "src", worker)
                servers[f"this tree, {worker}"] = stack.enter_context(this)
                if baseline is not None:
                    base = _served(config, workdir / f"base-{worker}", baseline, worker)
                    servers[f"baseline ({baseline}), {worker}"] = stack.enter_context(base)
            calls: dict[str, Callable[[], Any]] = {}
            for name, served in servers.items():
                calls[f"HTTP, all models, {name}"] = KeepAliveClient(served.url, PATH, body).post
                if session:
                    calls[f"HTTP, all models, {name}, requests.Session"] = SessionClient(served.url, body).post
            answer = json.loads(KeepAliveClient(next(iter(servers.values())).url, PATH, body).post())
            best = answer["models"][0]["name"]
            pipeline = pickle.loads(published.files[f"models/{best}.pkl"])
            calls[f"pickled Pipeline in-process, best ({best})"] = lambda: pipeline.predict(frame)
            timings = _interleaved(calls, count)
    return {"version": version, "best": best, "requests": count, "timings": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--baseline-src", type=Path, default=None, help="another checkout's src/ to compare with")
    parser.add_argument("--worker", choices=["gthread", "sync"], action="append", help="gthread (default) and/or sync")
    parser.add_argument("--session", action="store_true", help="also time a requests.Session client")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still stops the gunicorns it started
    result = probe(args.requests, args.baseline_src, args.worker or ["gthread"], args.session)
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
