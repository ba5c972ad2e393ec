"""Load test: gunicorn workers against the embedded S3, many concurrent clients, zero errors, RSS per worker.

    python -m bench.load_test                      # 10,000 requests at 32 clients; writes bench/results/load.json
    python -m bench.load_test --requests 1000      # what the test suite runs (tests/reliability/test_load.py)

A version like the ones training publishes (SchemaCoercer, preprocessing, ridge / random forest / histogram boosting
fitted on the bundled hotel_rates data) goes to an embedded S3 server on loopback; gunicorn serves
``adaptml.serving.wsgi:app`` with several workers and threads. The clients send a fixed, seeded mix of single-record
JSON, small JSON batches and small CSV bodies; every answer must be a 200 holding every row from every model of the
published version. The run is bounded in count and in time and sends traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from adaptml.signing import Keys
import psutil
import requests
import yaml

from bench.common import stop, vm_kib

RESULTS = Path(__file__).parent / "results" / "load.json"
TARGET = "avg_price_per_room"
PROJECT = "hotel-rates"
BUCKET = "adaptml-load"
VERSION = "load-v1"
KINDS = (("json_one", 0.6), ("json_batch", 0.25), ("csv", 0.15))


@dataclass(frozen=True)
class Plan:
    """How much load: the request count, concurrent clients, gunicorn's shape, and the time bound."""

    requests: int = 10_000
    clients: int = 32
    workers: int = 3
    threads: int = 4
    time_limit: float = 900.0
    seed: int = 0
    train_rows: int = 3_000


@dataclass(frozen=True)
class Call:
    kind: str
    body: bytes
    content_type: str
    rows: int


# -- the published version ---------------------------------------------------------------------------------------
def build_version(train_rows: int) -> tuple[dict[str, bytes], dict[str, Any], pd.DataFrame]:
    """Fit three whole pipelines on hotel_rates; return the files and metadata to publish, and raw features."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler

    from adaptml.datasets import read_bundled
    from adaptml.schema import SchemaCoercer, infer_schema

    raw = read_bundled("hotel_rates").drop(columns=["arrival_date"]).sample(train_rows, random_state=0)
    schema = infer_schema(raw, target=TARGET, task="regression")
    numeric = [c.name for c in schema.columns if c.kind == "numeric"]
    text = [c.name for c in schema.columns if c.kind == "categorical"]
    features = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"), _encoder()), text),
        ]
    )
    estimators = {
        "ridge": Ridge(alpha=1.0),
        "random_forest": RandomForestRegressor(n_estimators=40, max_depth=12, random_state=0, n_jobs=1),
        "hist_gradient_boosting": HistGradientBoostingRegressor(max_iter=100, random_state=0),
    }
    X, y = raw.drop(columns=[TARGET]), raw[TARGET]
    files: dict[str, bytes] = {"schema.json": schema.to_json().encode()}
    for name, estimator in estimators.items():
        pipeline = Pipeline([("coerce", SchemaCoercer(schema.to_dict())), ("features", features), ("model", estimator)])
        files[f"models/{name}.pkl"] = pickle.dumps(pipeline.fit(X, y))
    leaderboard = [{"rank": rank, "model": name} for rank, name in enumerate(estimators, start=1)]
    files["metrics.csv"] = pd.DataFrame(leaderboard).to_csv(index=False).encode()
    metadata = {"leaderboard": leaderboard, "task": "regression", "metric": "rmse", "higher_is_better": False}
    return files, metadata, X


def _encoder() -> Any:
    from sklearn.preprocessing import OneHotEncoder

    return OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False)


def request_mix(features: pd.DataFrame, count: int, seed: int) -> list[Call]:
    """A seeded mix: single-record JSON, JSON batches of 2-10 records, CSV bodies of 2-10 rows."""
    rng = random.Random(seed)
    records = json.loads(features.head(500).to_json(orient="records"))
    calls = []
    for _ in range(count):
        kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        rows = 1 if kind == "json_one" else rng.randint(2, 10)
        start = rng.randrange(len(records) - rows)
        chosen = records[start : start + rows]
        if kind == "csv":
            body = pd.DataFrame(chosen).to_csv(index=False).encode()
            calls.append(Call(kind, body, "text/csv", rows))
        else:
            payload: Any = chosen[0] if kind == "json_one" else {"records": chosen}
            calls.append(Call(kind, json.dumps(payload).encode(), "application/json", rows))
    return calls


# -- gunicorn -----------------------------------------------------------------------------------------------------
@dataclass
class Served:
    """A running gunicorn master and its worker processes."""

    url: str
    master: subprocess.Popen[bytes]
    log: Path

    def worker_pids(self) -> list[int]:
        return sorted(child.pid for child in psutil.Process(self.master.pid).children())

    def rss_mb(self) -> dict[int, float]:
        """Resident memory of every worker, in MiB."""
        found = {}
        for pid in self.worker_pids():
            try:
                found[pid] = round(psutil.Process(pid).memory_info().rss / 2**20, 1)
            except psutil.NoSuchProcess:
                continue
        return found


class PeakRss:
    """The largest resident memory of any gunicorn worker while the block runs (sampled every 20 ms)."""

    def __init__(self, served: Served) -> None:
        self.served, self.peak_mb = served, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            for pid in self.served.worker_pids():
                self.peak_mb = max(self.peak_mb, vm_kib(pid, "VmRSS") / 1024)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def write_config(path: Path, registry: str, *, project: str = PROJECT, **serving: Any) -> Path:
    """A serving config for ``registry``: polling off, Dask never used, plus any ``serving`` overrides."""
    config = {
        "project": project,
        "data": {"uri": f"{registry.rsplit('/', 1)[0]}/data/unused.csv", "target": TARGET},
        "registry": registry,
        "serving": {"poll_seconds": 0, "dask_threshold": 1_000_000, **serving},
    }
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def gunicorn(
    config: Path,
    *,
    keys: Keys | None = None,
    workers: int,
    threads: int,
    workdir: Path,
    ready_timeout: float = 180,
) -> Iterator[Served]:
    """gunicorn serving ``adaptml.serving.wsgi:app`` on a free loopback port, until the block ends.

    The workers get only the public half of ``keys`` (as a deployment would) and refuse versions it did not sign.
    Without ``keys`` (benches that publish unsigned versions) they accept unsigned versions, loudly.
    """
    from adaptml.s3server import free_port
    from adaptml.signing import INSECURE_ENV, VERIFY_KEY_ENV, env_values

    env = {k: v for k, v in os.environ.items() if k not in ("DASK_SCHEDULER_ADDRESS", "GUNICORN_CMD_ARGS")}
    env.update(ADAPTML_CONFIG=str(config), ADAPTML_RUNTIME_DIR=str(workdir / "runtime"))
    env.update(ADAPTML_RESULTS_DIR=str(workdir / "results"))
    env.pop("ADAPTML_SIGNING_KEY", None)
    if keys is not None:
        env[VERIFY_KEY_ENV] = env_values(keys)[VERIFY_KEY_ENV]
    else:
        env[INSECURE_ENV] = "1"
    port = free_port()
    binary = Path(sys.executable).with_name("gunicorn")
    command = [str(binary), "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
    command += ["--timeout", "120", "adaptml.serving.wsgi:app"]
    log_path = workdir / f"gunicorn-{port}.log"
    with log_path.open("wb") as log:
        master = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        served = Served(f"http://127.0.0.1:{port}", master, log_path)
        try:
            wait_workers(served, workers, ready_timeout)
            yield served
        finally:
            stop(master)


def wait_workers(served: Served, workers: int, timeout: float = 180) -> None:
    """Until /readyz answers 200 and the master has all its workers; the log's tail if gunicorn exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.master.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {served.log.read_text()[-2000:]}")
        try:
            ready = requests.get(f"{served.url}/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            ready = False
        if ready and len(served.worker_pids()) == workers:
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not become ready in {timeout:.0f} s: {served.log.read_text()[-2000:]}")


# -- the clients --------------------------------------------------------------------------------------------------
@dataclass
class Outcomes:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    not_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _check(call: Call, response: requests.Response) -> str | None:
    """Why an answer is wrong, or None: a 200 with every row predicted by every model of the version."""
    if response.status_code != 200:
        return f"{call.kind}: HTTP {response.status_code}: {response.text[:200]}"
    body = response.json()
    if body.get("version") != VERSION or body.get("row_count") != call.rows or body.get("error_count") != 0:
        return f"{call.kind}: unexpected answer {json.dumps(body)[:200]}"
    if any(value is None for row in body["rows"] for value in row["predictions"].values()):
        return f"{call.kind}: a missing prediction"
    return None


def fire(url: str, calls: list[Call], *, clients: int, deadline: float) -> Outcomes:
    """Send every call from ``clients`` threads (one keep-alive session each) until done or the deadline."""
    outcomes = Outcomes()
    local = threading.local()

    def send(call: Call) -> None:
        if time.monotonic() > deadline:
            with outcomes.lock:
                outcomes.not_sent += 1
            return
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        try:
            response = session.post(
                f"{url}/api/v1/predict", data=call.body, headers={"Content-Type": call.content_type}, timeout=60
            )
            problem = _check(call, response)
        except (requests.RequestException, ValueError) as error:
            problem = f"{call.kind}: {type(error).__name__}: {error}"
        elapsed = (time.perf_counter() - started) * 1000
        with outcomes.lock:
            outcomes.latencies_ms.append(elapsed)
            outcomes.by_kind[call.kind] = outcomes.by_kind.get(call.kind, 0) + 1
            if problem:
                outcomes.errors.append(problem)

    with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="load-client") as pool:
        list(pool.map(send, calls))
    return outcomes


class RssSampler:
    """Samples every worker's RSS once a second in a thread, to show memory across the run."""

    def __init__(self, served: Served, every: float = 1.0) -> None:
        self.served, self.every = served, every
        self.samples: list[dict[int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(self.served.rss_mb())

    def peak(self) -> dict[int, float]:
        peaks: dict[int, float] = {}
        for sample in self.samples:
            for pid, mb in sample.items():
                peaks[pid] = max(peaks.get(pid, 0.0), mb)
        return peaks


# -- the run ------------------------------------------------------------------------------------------------------
def _percentile(ordered: list[float], fraction: float) -> float:
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))], 1) if ordered else 0.0


def summarize(plan: Plan, outcomes: Outcomes, seconds: float, rss: dict[str, Any]) -> dict[str, Any]:
    ordered = sorted(outcomes.latencies_ms)
    sent = len(ordered)
    return {
        "plan": asdict(plan),
        "requests_sent": sent,
        "requests_not_sent_before_time_limit": outcomes.not_sent,
        "by_kind": dict(sorted(outcomes.by_kind.items())),
        "errors": len(outcomes.errors),
        "first_errors": outcomes.errors[:10],
        "seconds": round(seconds, 1),
        "requests_per_second": round(sent / seconds, 1) if seconds else 0.0,
        "latency_ms": {
            "p50": _percentile(ordered, 0.5),
            "p90": _percentile(ordered, 0.9),
            "p99": _percentile(ordered, 0.99),
            "max": round(ordered[-1], 1) if ordered else 0.0,
            "mean": round(statistics.fmean(ordered), 1) if ordered else 0.0,
        },
        "rss_mb": rss,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load_average": os.getloadavg()},
    }


def _rss_report(start: dict[int, float], end: dict[int, float], peak: dict[int, float]) -> dict[str, Any]:
    workers = [
        {"pid": pid, "start": start.get(pid), "end": end.get(pid), "peak": peak.get(pid)} for pid in sorted(start)
    ]
    growth = [w["end"] - w["start"] for w in workers if w["start"] is not None and w["end"] is not None]
    return {"workers": workers, "max_growth_mb": round(max(growth), 1) if growth else None}


def run(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Publish a version, start gunicorn, warm every worker, fire the mix, and measure."""
    from adaptml.registry import Registry
    from adaptml.s3server import running_s3
    from adaptml.signing import Keys
    from adaptml.storage import Storage

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the embedded S3 server's access log
    with running_s3(export=True):
        storage = Storage()
        storage.ensure_bucket(BUCKET)
        keys = Keys.generate()
        registry = Registry(f"s3://{BUCKET}/registry", PROJECT, storage=storage, keys=keys)
        files, metadata, features = build_version(plan.train_rows)
        registry.publish(VERSION, files, metadata)
        calls = request_mix(features, plan.requests, plan.seed)
        config = write_config(workdir / "load.yaml", str(registry.root))
        with gunicorn(config, keys=keys, workers=plan.workers, threads=plan.threads, workdir=workdir) as served:
            warm_up = request_mix(features, plan.workers * 20, plan.seed + 1)
            warm = fire(served.url, warm_up, clients=plan.workers, deadline=time.monotonic() + 120)
            start_rss = served.rss_mb()
            started = time.perf_counter()
            with RssSampler(served) as sampler:
                outcomes = fire(served.url, calls, clients=plan.clients, deadline=time.monotonic() + plan.time_limit)
            seconds = time.perf_counter() - started
            end_rss = served.rss_mb()
            outcomes.errors = warm.errors + outcomes.errors
    return summarize(plan, outcomes, seconds, _rss_report(start_rss, end_rss, sampler.peak()))


def report(results: dict[str, Any]) -> str:
    rss = results["rss_mb"]["workers"]
    lines = [
        f"requests: {results['requests_sent']:,} sent ({results['by_kind']}), errors: {results['errors']}, "
        f"not sent before the time limit: {results['requests_not_sent_before_time_limit']}",
        f"time: {results['seconds']} s, {results['requests_per_second']} requests/s",
        f"latency ms: {results['latency_ms']}",
        *(f"worker {w['pid']}: RSS {w['start']} MiB at start, {w['end']} MiB at end (peak {w['peak']})" for w in rss),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Plan()
    for name in ("requests", "clients", "workers", "threads", "seed", "train_rows"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    parser.add_argument("--time-limit", type=float, default=defaults.time_limit)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    plan = Plan(args.requests, args.clients, args.workers, args.threads, args.time_limit, args.seed, args.train_rows)
    with tempfile.TemporaryDirectory(prefix="adaptml-load-") as workdir:
        results = run(plan, Path(workdir))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"wrote {args.output}")
    return 0 if results["errors"] == 0 and results["requests_not_sent_before_time_limit"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
