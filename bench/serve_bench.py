"""Serving benchmark: single-record latency against MLflow's scoring server and the in-process floor, and a
100,000-row CSV through the API against the raw in-process predict of the same pipelines.

The served version is what ``adaptml train configs/hotel_rates.yaml`` publishes (see bench/trained.py), in this
benchmark's own embedded S3 server. ``adaptml serve`` and ``mlflow models serve --env-manager local`` (in
bench/.venvs/mlflow, serving our best model) run side by side as child processes; one keep-alive requests.Session
talks to both, sequentially, in interleaved rounds so that a change in the machine's load hits every side alike.
Results: bench/results/serving.json and a table.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests

from adaptml.datasets import read_bundled
from adaptml.s3server import running_s3
from adaptml.serving.loaded import LoadedModels, load_models
from adaptml.serving.threads import single_threaded
from adaptml.storage import Storage
from bench.common import Options, ratio, run_part, show_table, summarize_ms, time_calls
from bench.servers import Server, adaptml_server, mlflow_model_dir, mlflow_server, serve_config
from bench.trained import config_for, ensure_version

DATASET = "hotel_rates"


def _post(session: requests.Session, url: str, payload: Any) -> Callable[[], Any]:
    def call() -> Any:
        response = session.post(url, json=payload, timeout=60)
        response.raise_for_status()
        return response.json()

    return call


def _single_threaded(call: Callable[[Any], Any], argument: Any) -> Any:
    with single_threaded():  # as the app runs small batches
        return call(argument)


def interleaved(calls: dict[str, tuple[Callable[[], Any], int]], rounds: int = 10) -> dict[str, dict[str, Any]]:
    """Latency of each call (with its request count), measured in ``rounds`` alternating slices."""
    for call, _ in calls.values():
        time_calls(call, 0, warmup=30)
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, (call, count) in calls.items():
            timings[name] += time_calls(call, count // rounds, warmup=0)
    return {name: summarize_ms(values) for name, values in timings.items()}


def measure_latency(
    ours: Server,
    mlflow: Server,
    models: LoadedModels,
    pipelines: dict[str, Any],
    record: dict[str, Any],
    total: int,
) -> Any:
    """Every path on the same record; in-process calls use the pipelines exactly as published (unpickled)."""
    session = requests.Session()
    frame = pd.DataFrame([record])
    best = pipelines[models.best]
    mlflow_body = {"dataframe_records": [record]}
    ours_all = _post(session, f"{ours.url}/api/v1/predict", record)
    mlflow_best = _post(session, f"{mlflow.url}/invocations", mlflow_body)
    secondary, background = max(total // 2, 100), max(total // 5, 50)  # context rows need fewer requests
    calls = {
        f"adaptml API, all {len(models.models)} models": (ours_all, total),
        f"MLflow serve, best ({models.best})": (mlflow_best, total),
        f"adaptml /invocations, best ({models.best})": (
            _post(session, f"{ours.url}/invocations", mlflow_body),
            secondary,
        ),
        "in-process predict, best (floor)": (lambda: best.predict(frame), secondary),
        "in-process predict, best, single-threaded": (lambda: _single_threaded(best.predict, frame), secondary),
        f"in-process predict, all {len(pipelines)} models": (
            lambda: [m.predict(frame) for m in pipelines.values()],
            background,
        ),
    }
    answers = {"adaptml": ours_all()["rows"][0]["predictions"][models.best], "mlflow": mlflow_best()["predictions"][0]}
    return interleaved(calls), answers


def measure_batch(ours: Server, pipelines: dict[str, Any], features: pd.DataFrame, rows: int) -> dict[str, Any]:
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
    }


def run(options: Options, workdir: Path) -> dict[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    features = read_bundled(DATASET).drop(columns=[config_for(DATASET).data.target])
    record = json.loads(features.head(1).to_json(orient="records"))[0]
    with running_s3(export=True):
        registry, version = ensure_version(DATASET, Storage(), reuse=options.reuse_models)
        published = registry.load(version)
        models = load_models(published)
        python, model_dir = mlflow_model_dir(published.files[f"models/{models.best}.pkl"], workdir)
        pipelines = {name: pickle.loads(published.files[f"models/{name}.pkl"]) for name in models.models}
        config = serve_config(registry, workdir)
        with (
            adaptml_server(config, workdir / "adaptml.log") as ours,
            mlflow_server(python, model_dir, workdir / "mlflow.log") as mlflow,
        ):
            loaded_mb = ours.rss_mb()
            latency, answers = measure_latency(ours, mlflow, models, pipelines, record, options.pick(1000, 200))
            batch = measure_batch(ours, pipelines, features, options.pick(100_000, 20_000))
            memory = {
                "server_rss_after_load_mb": loaded_mb,
                "server_peak_rss_mb": ours.peak_rss_mb(),
                "dask_workers_peak_rss_mb": ours.dask_workers_peak_rss_mb(),
                "mlflow_server_rss_mb": mlflow.rss_mb(),
            }
    return {
        "version": {"dataset": DATASET, "version": version, "models": list(models.models), "best": models.best},
        "single_record_json": latency,
        "best_model_answers": {**answers, "agree": bool(np.isclose(answers["adaptml"], answers["mlflow"]))},
        "batch_csv": batch,
        "memory": memory,
        "ratios": _ratios(latency, batch),
    }


def _ratios(latency: dict[str, dict[str, Any]], batch: dict[str, Any]) -> dict[str, Any]:
    ours_all = next(v["p50_ms"] for k, v in latency.items() if k.startswith("adaptml API"))
    mlflow_p50 = next(v["p50_ms"] for k, v in latency.items() if k.startswith("MLflow"))
    floor = next(v["p50_ms"] for k, v in latency.items() if k.endswith("(floor)"))
    return {
        "p50_all_models_vs_mlflow_best": ratio(ours_all, mlflow_p50),
        "p50_all_models_vs_in_process_best": ratio(ours_all, floor),
        "p50_mlflow_vs_in_process_best": ratio(mlflow_p50, floor),
        "batch_api_vs_raw_throughput": batch["throughput_ratio"],
    }


def report(results: dict[str, Any]) -> None:
    latency = results["single_record_json"]
    mlflow_p50 = next(v["p50_ms"] for k, v in latency.items() if k.startswith("MLflow"))
    rows = [
        [name, v["p50_ms"], v["p99_ms"], v["mean_ms"], ratio(v["p50_ms"], mlflow_p50)] for name, v in latency.items()
    ]
    show_table(
        f"single-record JSON latency ({next(iter(latency.values()))['requests']} requests each)",
        ["path", "p50 ms", "p99 ms", "mean ms", "p50 / MLflow p50"],
        rows,
    )
    batch, memory = results["batch_csv"], results["memory"]
    show_table(
        f"batch: {batch['rows']:,}-row CSV in, CSV out, {batch['models']} models",
        ["path", "seconds", "rows/s", "vs raw"],
        [
            [
                "adaptml API (upload -> CSV download)",
                batch["api_seconds"],
                batch["api_rows_per_second"],
                batch["throughput_ratio"],
            ],
            ["raw in-process pipeline.predict", batch["raw_predict_seconds"], batch["raw_rows_per_second"], 1.0],
        ],
    )
    show_table(
        "memory (MB)",
        ["process", "MB"],
        [
            ["adaptml server after load (RSS)", memory["server_rss_after_load_mb"]],
            ["adaptml server peak (VmHWM)", memory["server_peak_rss_mb"]],
            ["Dask workers peak", ", ".join(str(v) for v in memory["dask_workers_peak_rss_mb"]) or "-"],
            ["MLflow server (RSS)", memory["mlflow_server_rss_mb"]],
        ],
    )


def measure(options: Options) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        return run(options, Path(workdir))


def main(options: Options | None = None) -> None:
    print(f"wrote {run_part('serving', options, measure, report)}")


if __name__ == "__main__":
    main()
