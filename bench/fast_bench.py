"""Fast-path benchmark, in-process and side by side: the compiled scorers against the pickled pipelines.

On the version training publishes for the bundled adult dataset (bench/trained.py): one record through every
model's compiled path (from the raw record, and from the validated frame) against the best pickled Pipeline and
the native floor (each estimator's call on an already-encoded numpy row: the tree table walk for tree models);
a 100,000-row CSV in, CSV out through the serving core against the raw pipelines' predict; the largest difference
per model against the pickles on the bench rows; and the compile+gate time. Results: bench/results/serving_fast.json
and a table.
"""

from __future__ import annotations

import io
import pickle
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from adaptml.datasets import read_bundled
from adaptml.s3server import running_s3
from adaptml.serving.compiled.columns import frame_columns
from adaptml.serving.compiled.derive import derive_fast_paths
from adaptml.serving.loaded import LoadedModels, load_models
from adaptml.serving.parsing import parse_csv
from adaptml.serving.predict import predict_all, predict_direct, prepare_input
from adaptml.serving.sharing import shared_work
from adaptml.serving.tables import results_frame, to_safe_csv
from adaptml.serving.threads import single_threaded
from adaptml.storage import Storage
from bench.common import Options, ratio, run_part, show_table, summarize_ms, time_calls
from bench.trained import config_for, ensure_version

DATASET = "adult"


def _floor(models: LoadedModels, frame: pd.DataFrame) -> float:
    """Median ms of every model's final estimator call on its own already-encoded row (encoders excluded)."""
    return float(summarize_ms(time_calls(floor_call(models, frame), 300))["p50_ms"])


def floor_call(models: LoadedModels, frame: pd.DataFrame) -> Callable[[], Any]:
    """Every model's final estimator call on its own already-encoded row (encoders and the ensemble excluded)."""
    typed = prepare_input(models.schema, frame).typed
    finals = []
    with shared_work():
        for name in models.models:
            compiled = models.predictors[name]
            if getattr(compiled, "family", None) in (None, "ensemble"):
                continue
            data: Any = frame_columns(typed)
            for _, step in compiled.steps:
                data = step(data)
            finals.append((compiled.finish, data))
    return lambda: [finish(matrix) for finish, matrix in finals]


def single_record(models: LoadedModels, pipelines: dict[str, Any], frame: pd.DataFrame, count: int) -> dict[str, Any]:
    names = list(models.models)
    best = pipelines[models.best]
    prepared = prepare_input(models.schema, frame)
    with single_threaded():
        calls = {
            "pickled Pipeline, best model": lambda: best.predict(frame),
            f"pickled Pipelines, all {len(names)} models": lambda: [p.predict(frame) for p in pipelines.values()],
            "compiled, all models, raw record in": lambda: predict_all(models, frame),
            "compiled, all models, validated frame in": lambda: predict_direct(models, prepared, names),
        }
        timings = {name: summarize_ms(time_calls(call, count)) for name, call in calls.items()}
        timings["native floor, all estimators"] = {"p50_ms": _floor(models, frame)}
    return timings


def batch(models: LoadedModels, pipelines: dict[str, Any], features: pd.DataFrame, rows: int) -> dict[str, Any]:
    body = features.sample(rows, replace=True, random_state=1).to_csv(index=False).encode()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    parsed = parse_csv(body, max_rows=rows)
    predicting = time.perf_counter()
    result = predict_all(models, parsed)
    predict_seconds = time.perf_counter() - predicting
    out = to_safe_csv(results_frame(result))
    core_seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    frame = pd.read_csv(io.BytesIO(body), low_memory=False)
    started = time.perf_counter()
    expected = {name: pipeline.predict(frame) for name, pipeline in pipelines.items()}
    raw_seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "upload_mb": round(len(body) / 1e6, 1),
        "download_mb": round(len(out) / 1e6, 1),
        "core_csv_in_csv_out_seconds": round(core_seconds, 2),
        "core_rows_per_second": round(rows / core_seconds),
        "raw_predict_seconds": round(raw_seconds, 2),
        "raw_rows_per_second": round(rows / raw_seconds),
        "speedup_vs_raw": ratio(raw_seconds, core_seconds),
        "compiled_predict_seconds": round(predict_seconds, 2),  # predict_all on the parsed frame, all models
        "compiled_predict_rows_per_second": round(rows / predict_seconds),
        "compiled_predict_speedup_vs_raw": ratio(raw_seconds, predict_seconds),
        "process_peak_rss_mb": round(peak_mb, 1),
        "peak_rss_before_mb": round(before / 1024, 1),
        "largest_difference": _differences(result, expected),
    }


def _differences(result: Any, expected: dict[str, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for output in result.outputs:
        want = expected[output.name]
        if output.classes:
            out[output.name] = {"labels_equal": bool(np.array_equal(output.predictions, want.astype(object)))}
        else:
            out[output.name] = float(np.max(np.abs(output.predictions.astype(float) - want)))
    return out


def measure(options: Options) -> dict[str, Any]:
    target = config_for(DATASET).data.target
    features = read_bundled(DATASET).drop(columns=[target])
    with running_s3(export=True):
        registry, version = ensure_version(DATASET, Storage(), reuse=options.reuse_models)
        published = registry.load(version)
    pipelines = {
        path[len("models/") : -len(".pkl")]: pickle.loads(data)
        for path, data in published.files.items()
        if path.startswith("models/") and path.endswith(".pkl")
    }
    loaded = load_models(published)
    started = time.perf_counter()
    models = derive_fast_paths(loaded)
    derive_seconds = time.perf_counter() - started
    assert models.fast_paths is not None
    record = features.head(1)
    latency = single_record(models, pipelines, record, options.pick(300, 50))
    batch_result = batch(models, pipelines, features, options.pick(100_000, 10_000))
    compiled = latency["compiled, all models, validated frame in"]["p50_ms"]
    return {
        "version": {"dataset": DATASET, "version": version, "models": list(models.models), "best": models.best},
        "fast_paths": {name: path.to_dict() for name, path in models.fast_paths.items()},
        "derive_and_gate_seconds": round(derive_seconds, 2),
        "single_record": latency,
        "batch_csv": batch_result,
        "ratios": {
            "compiled_all_vs_best_pickled": ratio(compiled, latency["pickled Pipeline, best model"]["p50_ms"]),
            "compiled_all_vs_floor": ratio(compiled, latency["native floor, all estimators"]["p50_ms"]),
            "batch_core_vs_raw_throughput": batch_result["speedup_vs_raw"],
            "batch_compiled_predict_vs_raw_predict": batch_result["compiled_predict_speedup_vs_raw"],
        },
    }


def report(results: dict[str, Any]) -> None:
    show_table(
        "one record, in-process (single-threaded)",
        ["path", "p50 ms"],
        [[name, value["p50_ms"]] for name, value in results["single_record"].items()],
    )
    b = results["batch_csv"]
    show_table(
        f"{b['rows']:,} rows CSV in, CSV out",
        ["path", "seconds", "rows/s"],
        [
            ["serving core (parse, predict, CSV)", b["core_csv_in_csv_out_seconds"], b["core_rows_per_second"]],
            ["compiled predict (all models)", b["compiled_predict_seconds"], b["compiled_predict_rows_per_second"]],
            ["raw pipelines' predict", b["raw_predict_seconds"], b["raw_rows_per_second"]],
        ],
    )
    show_table("ratios", ["ratio", "value"], [[k, v] for k, v in results["ratios"].items()])


def main(options: Options | None = None) -> None:
    print(f"wrote {run_part('serving_fast', options, measure, report)}")


if __name__ == "__main__":
    main()
