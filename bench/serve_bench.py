"""Serving benchmark: a 100,000-row CSV through the API, single-record latency, the Dask overhead at 11 rows.

A version like the ones training publishes (SchemaCoercer + preprocessing + ridge / random forest / histogram
boosting, fitted on the bundled hotel_rates data) goes to an embedded S3 server; ``adaptml serve`` runs as its
own process and is measured over HTTP. Results: bench/results/serving.json and a table on stdout.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
import yaml
from rich.console import Console
from rich.table import Table
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from adaptml.datasets import read_bundled
from adaptml.registry import Registry
from adaptml.s3server import free_port, running_s3
from adaptml.schema import Schema, SchemaCoercer, infer_schema
from adaptml.storage import Storage

RESULTS = Path(__file__).parent / "results" / "serving.json"
TARGET = "avg_price_per_room"
BATCH_ROWS = 100_000
LATENCY_REQUESTS = 1_000
OVERHEAD_REPEATS = 60
BUCKET = "adaptml-bench"


def _text_missing_as_blank(frame: pd.DataFrame) -> pd.DataFrame:
    """Blank out missing text cells before schema inference (same meaning: "" is a missing marker)."""
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    return frame.assign(**{c: frame[c].astype(object).where(frame[c].notna(), "") for c in text})


def _preprocessor(schema: Schema) -> ColumnTransformer:
    kinds = {
        kind: [c.name for c in schema.columns if c.kind == kind] for kind in ("numeric", "categorical", "datetime")
    }
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), kinds["numeric"]),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False),
                ),
                kinds["categorical"],
            ),
            (
                "date",
                make_pipeline(
                    FunctionTransformer(np.asarray, kw_args={"dtype": "int64"}),
                    SimpleImputer(missing_values=np.iinfo(np.int64).min, strategy="median"),
                    StandardScaler(),
                ),
                kinds["datetime"],
            ),
        ]
    )


def build_version(train_rows: int = 8_000) -> tuple[dict[str, bytes], dict[str, Any], pd.DataFrame]:
    """Fit three pipelines on hotel_rates and return the files and metadata to publish, and the raw features."""
    raw = read_bundled("hotel_rates")
    schema = infer_schema(_text_missing_as_blank(raw), target=TARGET, task="regression")
    sample = raw.sample(train_rows, random_state=0)
    train, test = sample.iloc[: train_rows * 4 // 5], sample.iloc[train_rows * 4 // 5 :]
    estimators = {
        "ridge": Ridge(alpha=1.0),
        "random_forest": RandomForestRegressor(n_estimators=60, max_depth=14, random_state=0, n_jobs=1),
        "hist_gradient_boosting": HistGradientBoostingRegressor(max_iter=150, random_state=0),
    }
    files: dict[str, bytes] = {"schema.json": schema.to_json().encode()}
    scores = {}
    for name, estimator in estimators.items():
        pipeline = Pipeline(
            [("coerce", SchemaCoercer(schema.to_dict())), ("features", _preprocessor(schema)), ("model", estimator)]
        )
        pipeline.fit(train.drop(columns=[TARGET]), train[TARGET])
        error = test[TARGET].to_numpy() - pipeline.predict(test.drop(columns=[TARGET]))
        scores[name] = float(np.sqrt(np.mean(error**2)))
        files[f"models/{name}.pkl"] = pickle.dumps(pipeline)
    ranked = sorted(scores, key=scores.__getitem__)
    leaderboard = [{"rank": i, "model": name, "rmse": scores[name]} for i, name in enumerate(ranked, start=1)]
    files["metrics.csv"] = pd.DataFrame(leaderboard).to_csv(index=False).encode()
    metadata = {"leaderboard": leaderboard, "metric": "rmse", "higher_is_better": False, "task": "regression"}
    return files, metadata, raw.drop(columns=[TARGET])


def _vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _dask_workers(pid: int) -> list[int]:
    """The worker processes the server's LocalCluster spawned (not multiprocessing's resource tracker)."""
    import psutil

    children = psutil.Process(pid).children(recursive=True)
    return [c.pid for c in children if "resource_tracker" not in " ".join(c.cmdline())]


def start_server(config: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "adaptml.cli", "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not become ready")


def measure_batch(url: str, features: pd.DataFrame) -> dict[str, Any]:
    """POST a 100,000-row CSV file; the CSV answer must hold every row and every model's prediction."""
    batch = features.sample(BATCH_ROWS, replace=True, random_state=1).reset_index(drop=True)
    body = batch.to_csv(index=False).encode()
    started = time.perf_counter()
    response = requests.post(
        f"{url}/api/v1/predict",
        files={"file": ("batch.csv", body, "text/csv")},
        headers={"Accept": "text/csv"},
        timeout=900,
    )
    seconds = time.perf_counter() - started
    response.raise_for_status()
    table = pd.read_csv(io.BytesIO(response.content), low_memory=False)
    predictions = [c for c in table.columns if c.endswith("_prediction")]
    complete = bool(len(table) == BATCH_ROWS and table[predictions].notna().all().all())
    return {
        "rows": len(table),
        "models": len(predictions),
        "upload_mb": round(len(body) / 1e6, 1),
        "seconds": round(seconds, 2),
        "rows_per_second": round(BATCH_ROWS / seconds),
        "all_rows_all_models": complete,
    }


def measure_latency(url: str, record: dict[str, Any]) -> dict[str, Any]:
    """Sequential single-record JSON requests answered by every model."""
    session = requests.Session()
    for _ in range(20):  # warm-up
        session.post(f"{url}/api/v1/predict", json=record, timeout=30).raise_for_status()
    timings = []
    for _ in range(LATENCY_REQUESTS):
        started = time.perf_counter()
        response = session.post(f"{url}/api/v1/predict", json=record, timeout=30)
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    ordered = sorted(timings)
    return {
        "requests": LATENCY_REQUESTS,
        "p50_ms": round(ordered[len(ordered) // 2], 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 2),
        "mean_ms": round(statistics.fmean(timings), 2),
    }


def measure_dask_overhead(url: str, features: pd.DataFrame) -> dict[str, Any]:
    """Median latency of 11-row requests (Dask) minus 10-row requests (direct), interleaved."""
    session = requests.Session()
    eleven = json.loads(features.sample(11, random_state=2).to_json(orient="records"))
    ten = eleven[:10]
    timings: dict[str, list[float]] = {"dask": [], "direct": []}
    for _ in range(OVERHEAD_REPEATS):
        for engine, rows in (("dask", eleven), ("direct", ten)):
            started = time.perf_counter()
            answer = session.post(f"{url}/api/v1/predict", json=rows, timeout=60).json()
            timings[engine].append((time.perf_counter() - started) * 1000)
            assert answer["engine"] == engine, answer.get("warnings")
    dask_ms, direct_ms = statistics.median(timings["dask"]), statistics.median(timings["direct"])
    return {
        "dask_11_rows_ms": round(dask_ms, 2),
        "direct_10_rows_ms": round(direct_ms, 2),
        "overhead_ms": round(dask_ms - direct_ms, 2),
        "repeats": OVERHEAD_REPEATS,
    }


def run(workdir: Path) -> dict[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the embedded S3 server's access log
    with running_s3(export=True):
        storage = Storage()
        storage.ensure_bucket(BUCKET)
        registry = Registry(f"s3://{BUCKET}/registry", "hotel-rates", storage=storage)
        started = time.perf_counter()
        files, metadata, features = build_version()
        registry.publish("bench-v1", files, metadata)
        fit_seconds = time.perf_counter() - started
        config = workdir / "bench.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "project": "hotel-rates",
                    "registry": str(registry.root),
                    "data": {"uri": f"s3://{BUCKET}/data/hotel_rates.csv.gz", "target": TARGET},
                }
            )
        )
        port = free_port()
        server = start_server(config, port)
        url = f"http://127.0.0.1:{port}"
        try:
            baseline_kib = _vm_kib(server.pid, "VmRSS")
            record = json.loads(features.head(1).to_json(orient="records"))[0]
            latency = measure_latency(url, record)
            overhead = measure_dask_overhead(url, features)
            batch = measure_batch(url, features)
            peak = {
                "server_peak_rss_mb": round(_vm_kib(server.pid, "VmHWM") / 1024, 1),
                "server_rss_after_load_mb": round(baseline_kib / 1024, 1),
                "dask_workers_peak_rss_mb": [
                    round(_vm_kib(p, "VmHWM") / 1024, 1) for p in _dask_workers(server.pid) if _vm_kib(p, "VmHWM")
                ],
            }
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "version": {
            "dataset": "hotel_rates",
            "models": [r["model"] for r in metadata["leaderboard"]],
            "columns": len(features.columns),
            "build_seconds": round(fit_seconds, 1),
        },
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load_average": os.getloadavg()},
        "batch_100k_csv": {**batch, **peak},
        "single_record_json": latency,
        "dask_overhead_11_rows": overhead,
    }


def report(results: dict[str, Any], console: Console) -> None:
    table = Table(title="adaptml serving benchmark")
    table.add_column("measure")
    table.add_column("value", justify="right")
    batch, latency, overhead = (
        results["batch_100k_csv"],
        results["single_record_json"],
        results["dask_overhead_11_rows"],
    )
    rows = [
        ("100k-row CSV upload, all models (s)", f"{batch['seconds']:.2f}"),
        ("  rows/s", f"{batch['rows_per_second']:,}"),
        ("  every row, every model", str(batch["all_rows_all_models"])),
        ("  server peak RSS (MB)", f"{batch['server_peak_rss_mb']:.0f}"),
        ("  Dask workers peak RSS (MB)", ", ".join(f"{v:.0f}" for v in batch["dask_workers_peak_rss_mb"])),
        ("single-record JSON p50 (ms)", f"{latency['p50_ms']:.1f}"),
        ("single-record JSON p99 (ms)", f"{latency['p99_ms']:.1f}"),
        ("11 rows on Dask (ms, median)", f"{overhead['dask_11_rows_ms']:.1f}"),
        ("10 rows direct (ms, median)", f"{overhead['direct_10_rows_ms']:.1f}"),
        ("Dask overhead at 11 rows (ms)", f"{overhead['overhead_ms']:.1f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        results = run(Path(workdir))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    report(results, Console())
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
