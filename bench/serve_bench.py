"""Serving benchmark, one run, side by side: one record over HTTP (gunicorn, keep-alive) against MLflow's scoring
server and the pickled pipeline in-process; the compiled scorers in-process against the native floor; a
100,000-row CSV through the API against the raw pipelines' predict; a 600,000-row upload streamed back as CSV.

The served version is what training publishes for the bundled adult dataset (7 models, see bench/trained.py), in
this benchmark's own embedded S3 server. gunicorn as deployed (``adaptml.serving.gunicorn_conf``: gthread-based
workers that keep connections alive) and ``mlflow models serve --env-manager local`` (in bench/.venvs/mlflow,
serving our best model) run as child processes; one keep-alive http.client connection per server and endpoint
talks to them, in interleaved rounds so that a change in the machine's load hits every side
alike. The largest difference per model between the API's answers and the pickled pipelines is reported on the
100,000 bench rows. Results: bench/results/serving.json and tables.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests

from adaptml.datasets import read_bundled
from adaptml.s3server import running_s3
from adaptml.serving.compiled.derive import derive_fast_paths
from adaptml.serving.json_input import Records
from adaptml.serving.loaded import LoadedModels, load_models
from adaptml.serving.predict import predict_all
from adaptml.serving.threads import single_threaded
from adaptml.storage import Storage
from bench.common import Options, ratio, run_part, show_table, summarize_ms, time_calls, vm_kib
from bench.fast_bench import floor_call
from bench.load_test import PeakRss, Served, write_config
from bench.servers import KeepAliveClient, Server, mlflow_model_dir, mlflow_server, product_gunicorn, wait_fast_paths
from bench.trained import config_for, ensure_version

DATASET = "adult"
WORKERS = 2
SERVER = (
    f"gunicorn as deployed (adaptml.serving.gunicorn_conf: {WORKERS} DeadlineThreadWorker (gthread) workers, "
    "access log on); one keep-alive http.client connection per server"
)
BIG_ROWS = 600_000


def _post(url: str, path: str, payload: Any) -> Callable[[], Any]:
    """One kept-alive connection posting ``payload`` as JSON to ``path``; the call returns the parsed answer."""
    return KeepAliveClient(url, path, json.dumps(payload).encode()).post_json


def interleaved(calls: dict[str, tuple[Callable[[], Any], int]], rounds: int = 10) -> dict[str, dict[str, Any]]:
    """Latency of each call (with its request count), measured in ``rounds`` alternating slices."""
    for call, _ in calls.values():
        time_calls(call, 0, warmup=30)
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, (call, count) in calls.items():
            timings[name] += time_calls(call, count // rounds, warmup=0)
    return {name: summarize_ms(values) for name, values in timings.items()}


def _single_threaded(call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with single_threaded():  # as the app runs small batches
            return call()

    return run


def measure_latency(
    ours: Served,
    mlflow: Server | None,
    models: LoadedModels,
    pipelines: dict[str, Any],
    record: dict[str, Any],
    total: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every path on the same record; in-process calls use the pipelines exactly as published (unpickled)."""
    frame = pd.DataFrame([record])
    best = pipelines[models.best]
    mlflow_body = {"dataframe_records": [record]}
    ours_all = _post(ours.url, "/api/v1/predict", record)
    secondary, background = max(total // 2, 100), max(total // 5, 50)
    calls: dict[str, tuple[Callable[[], Any], int]] = {
        f"adaptml API over HTTP, all {len(models.models)} models": (ours_all, total),
    }
    if mlflow is not None:
        calls[f"MLflow serve, best ({models.best})"] = (_post(mlflow.url, "/invocations", mlflow_body), total)
    calls |= {
        f"adaptml /invocations over HTTP, best ({models.best})": (
            _post(ours.url, "/invocations", mlflow_body),
            secondary,
        ),
        "pickled Pipeline in-process, best": (lambda: best.predict(frame), secondary),
        "pickled Pipeline in-process, best, single-threaded": (
            _single_threaded(lambda: best.predict(frame)),
            secondary,
        ),
        f"compiled in-process, all {len(models.models)} models (JSON record in)": (
            _single_threaded(lambda: predict_all(models, Records([record]))),
            secondary,
        ),
        "native floor, every estimator on its encoded row": (_single_threaded(floor_call(models, frame)), secondary),
        f"pickled Pipelines in-process, all {len(pipelines)} models": (
            lambda: [m.predict(frame) for m in pipelines.values()],
            background,
        ),
    }
    latency = interleaved(calls)
    answers = {"adaptml": ours_all()["rows"][0]["predictions"][models.best]}
    if mlflow is not None:
        answers["mlflow"] = _post(mlflow.url, "/invocations", mlflow_body)()["predictions"][0]
    return latency, answers


def _differences(table: pd.DataFrame, pipelines: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    """Per model: labels that differ (classifiers) and the largest |difference| of values or probabilities."""
    out: dict[str, Any] = {}
    for name, pipeline in pipelines.items():
        expected = pipeline.predict(frame)
        got = table[f"{name}_prediction"].to_numpy()
        if hasattr(pipeline, "predict_proba") and hasattr(pipeline, "classes_"):
            proba = pipeline.predict_proba(frame)
            columns = [f"{name}_proba_{label}" for label in pipeline.classes_]
            largest = float(np.max(np.abs(table[columns].to_numpy(dtype="float64") - proba)))
            differ = int(np.sum(got.astype(str) != expected.astype(str)))
            out[name] = {"labels_differing": differ, "largest_probability_difference": largest}
        else:
            out[name] = {"largest_value_difference": float(np.max(np.abs(got.astype(float) - expected)))}
    return out


def measure_batch(ours: Served, pipelines: dict[str, Any], features: pd.DataFrame, rows: int) -> dict[str, Any]:
    """The same CSV through the API (CSV back, every model) and through each pipeline's predict in-process."""
    body = features.sample(rows, replace=True, random_state=1).to_csv(index=False).encode()
    started = time.perf_counter()
    response = requests.post(
        f"{ours.url}/api/v1/predict",
        files={"file": ("batch.csv", body, "text/csv")},
        headers={"Accept": "text/csv"},
        timeout=1800,
    )
    api_seconds = time.perf_counter() - started
    response.raise_for_status()
    table = pd.read_csv(io.BytesIO(response.content), low_memory=False)
    predictions = [c for c in table.columns if c.endswith("_prediction")]
    frame = pd.read_csv(io.BytesIO(body), low_memory=False)
    started = time.perf_counter()
    for pipeline in pipelines.values():
        pipeline.predict(frame)
    raw_seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "models": len(predictions),
        "upload_mb": round(len(body) / 1e6, 1),
        "every_row_every_model": bool(len(table) == rows and table[predictions].notna().all().all()),
        "api_seconds": round(api_seconds, 2),
        "api_rows_per_second": round(rows / api_seconds),
        "raw_predict_seconds": round(raw_seconds, 2),
        "raw_rows_per_second": round(rows / raw_seconds),
        "throughput_ratio": ratio(raw_seconds, api_seconds),
        "largest_difference_vs_pickled": _differences(table, pipelines, frame),
    }


def _chunks(body: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def measure_big_upload(ours: Served, features: pd.DataFrame, rows: int) -> dict[str, Any]:
    """A big CSV posted to /api/v1/predict with Accept: text/csv, the answer read as it streams."""
    body = features.sample(rows, replace=True, random_state=2).to_csv(index=False).encode()
    before = max(vm_kib(pid, "VmRSS") / 1024 for pid in ours.worker_pids())
    with PeakRss(ours) as rss:
        started = time.perf_counter()
        response = requests.post(
            f"{ours.url}/api/v1/predict",
            data=body,
            headers={"Content-Type": "text/csv", "Accept": "text/csv"},
            stream=True,
            timeout=600,
        )
        first_byte = time.perf_counter() - started
        received = sum(len(piece) for piece in response.iter_content(1 << 20))
        seconds = time.perf_counter() - started
    response.raise_for_status()
    return {
        "rows": rows,
        "upload_mb": round(len(body) / 1e6, 1),
        "download_mb": round(received / 1e6, 1),
        "seconds": round(seconds, 2),
        "first_byte_seconds": round(first_byte, 2),
        "rows_per_second": round(rows / seconds),
        "worker_rss_before_mb": round(before, 1),
        "worker_rss_peak_mb": round(rss.peak_mb, 1),
    }


def _mlflow(published: Any, models: LoadedModels, workdir: Path) -> tuple[Path, Path] | str:
    try:
        return mlflow_model_dir(published.files[f"models/{models.best}.pkl"], workdir)
    except Exception as error:  # noqa: BLE001 - the peer is optional: its absence is reported, not fatal
        return f"{type(error).__name__}: {error}"


def run(options: Options, workdir: Path) -> dict[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    features = read_bundled(DATASET).drop(columns=[config_for(DATASET).data.target])
    record = json.loads(features.head(1).to_json(orient="records"))[0]
    with running_s3(export=True):
        registry, version = ensure_version(DATASET, Storage(), reuse=options.reuse_models)
        published = registry.load(version)
        models = derive_fast_paths(load_models(published))
        peer = _mlflow(published, models, workdir)
        pipelines = {name: pickle.loads(published.files[f"models/{name}.pkl"]) for name in models.models}
        config = write_config(workdir / "serve.yaml", str(registry.root), project=registry.project)
        with product_gunicorn(config, workers=WORKERS, workdir=workdir) as ours:
            fast_paths = wait_fast_paths(ours, WORKERS)
            loaded_mb = ours.rss_mb()
            if isinstance(peer, str):
                latency, answers = measure_latency(ours, None, models, pipelines, record, options.pick(1000, 200))
            else:
                with mlflow_server(*peer, workdir / "mlflow.log") as mlflow:
                    latency, answers = measure_latency(ours, mlflow, models, pipelines, record, options.pick(1000, 200))
            batch = measure_batch(ours, pipelines, features, options.pick(100_000, 20_000))
            big = measure_big_upload(ours, features, options.pick(BIG_ROWS, 100_000))
            peak_hwm_mb = round(max(vm_kib(pid, "VmHWM") for pid in ours.worker_pids()) / 1024, 1)
    return {
        "version": {"dataset": DATASET, "version": version, "models": list(models.models), "best": models.best},
        "server": SERVER,
        "mlflow": "mlflow models serve --env-manager local" if not isinstance(peer, str) else f"unavailable: {peer}",
        "fast_paths": fast_paths,
        "single_record_json": latency,
        "best_model_answers": answers,
        "batch_csv": batch,
        "big_upload_csv": big,
        "memory": {  # the first two keys as bench/summary.py reads them
            "server_peak_rss_mb": peak_hwm_mb,  # the largest gunicorn worker's VmHWM over the whole run
            "dask_workers_peak_rss_mb": [],
            "workers_rss_after_load_mb": loaded_mb,
        },
        "ratios": _ratios(latency, batch),
    }


def _p50(latency: dict[str, dict[str, Any]], prefix: str) -> float | None:
    return next((v["p50_ms"] for k, v in latency.items() if k.startswith(prefix)), None)


def _ratios(latency: dict[str, dict[str, Any]], batch: dict[str, Any]) -> dict[str, Any]:
    ours_all = _p50(latency, "adaptml API")
    compiled = _p50(latency, "compiled in-process")
    return {
        "p50_all_models_vs_mlflow_best": ratio(ours_all, _p50(latency, "MLflow")),  # as bench/summary.py reads it
        "http_all_models_vs_pickled_best_in_process (goal <= 0.1)": ratio(
            ours_all, _p50(latency, "pickled Pipeline in-process, best")
        ),
        "http_all_models_vs_mlflow_best (goal <= 0.05)": ratio(ours_all, _p50(latency, "MLflow")),
        "compiled_all_models_vs_native_floor (goal <= 3)": ratio(compiled, _p50(latency, "native floor")),
        "batch_api_vs_raw_throughput (goal >= 3)": batch["throughput_ratio"],
    }


def report(results: dict[str, Any]) -> None:
    latency = results["single_record_json"]
    show_table(
        "one record (p50/p99 ms)",
        ["path", "p50 ms", "p99 ms"],
        [[name, v["p50_ms"], v.get("p99_ms", "")] for name, v in latency.items()],
    )
    batch, big = results["batch_csv"], results["big_upload_csv"]
    show_table(
        "batches, CSV in, CSV out, every model",
        ["path", "rows", "seconds", "rows/s"],
        [
            [
                "adaptml API (multipart upload -> CSV)",
                batch["rows"],
                batch["api_seconds"],
                batch["api_rows_per_second"],
            ],
            [
                "raw pipelines' predict in-process",
                batch["rows"],
                batch["raw_predict_seconds"],
                batch["raw_rows_per_second"],
            ],
            [f"adaptml API, {big['upload_mb']} MB streamed", big["rows"], big["seconds"], big["rows_per_second"]],
        ],
    )
    show_table("ratios", ["ratio", "value"], [[k, v] for k, v in results["ratios"].items()])


def measure(options: Options) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        return run(options, Path(workdir))


def main(options: Options | None = None) -> None:
    print(f"wrote {run_part('serving', options, measure, report)}")


if __name__ == "__main__":
    main()
