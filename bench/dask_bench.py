"""Dask benchmark: what the Dask path costs at 11 rows, and time against rows for the direct and Dask paths.

Both paths run the prediction core (``predict_all``: strict validation, every model of the trained hotel_rates
version) in this process; the Dask path hands the batch to a ``DaskEngine`` on a LocalCluster of two
single-threaded worker processes, as ``adaptml serve`` starts it. Results: bench/results/dask.json and
bench/results/dask_crossover.png.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from adaptml.datasets import read_bundled
from adaptml.s3server import running_s3
from adaptml.serving.dask_engine import DaskEngine
from adaptml.serving.loaded import LoadedModels, load_models
from adaptml.serving.predict import predict_all
from adaptml.serving.threads import single_threaded
from adaptml.storage import Storage
from bench.common import RESULTS_DIR, Options, ratio, run_part, show_table
from bench.trained import config_for, ensure_version

DATASET = "hotel_rates"
PLOT = RESULTS_DIR / "dask_crossover.png"


def _median_ms(call: Callable[[], Any], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _direct_single_threaded(models: LoadedModels, frame: pd.DataFrame) -> Any:
    with single_threaded():  # how the web app runs small batches directly
        return predict_all(models, frame)


def measure_overhead(models: LoadedModels, engine: DaskEngine, frame: pd.DataFrame, repeats: int) -> dict[str, Any]:
    """Median time of the same 11 rows on each path, interleaved so load changes hit every path alike.

    The overhead is Dask minus the faster direct variant (single-threaded, as the app runs small batches).
    """
    eleven = frame.head(11)
    paths: dict[str, Callable[[], Any]] = {
        "direct_single_threaded": lambda: _direct_single_threaded(models, eleven),
        "direct_default_threads": lambda: predict_all(models, eleven),
        "dask": lambda: predict_all(models, eleven, dask=engine, dask_threshold=10),
    }
    assert paths["dask"]().engine == "dask", "the Dask path fell back to direct"
    for _ in range(5):
        for call in paths.values():
            call()
    timings: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeats):
        for name, call in paths.items():
            timings[name].append(_median_ms(call, 1))
    medians = {name: round(statistics.median(values), 2) for name, values in timings.items()}
    direct = min(medians["direct_single_threaded"], medians["direct_default_threads"])
    return {
        "rows": 11,
        "repeats": repeats,
        **{f"{name}_ms": value for name, value in medians.items()},
        "overhead_ms": round(medians["dask"] - direct, 2),
        "dask_p90_ms": round(sorted(timings["dask"])[int(0.9 * repeats) - 1], 2),
    }


def sweep(models: LoadedModels, engine: DaskEngine, features: pd.DataFrame, sizes: list[int]) -> list[dict[str, Any]]:
    """Seconds per batch on each path for each batch size (median of a few runs for small sizes); the Dask path
    is forced at every size (threshold 0), so the small sizes show what the app avoids by predicting directly."""
    rows = []
    for size in sizes:
        frame = features.sample(size, replace=True, random_state=size).reset_index(drop=True)
        repeats = 7 if size <= 1_000 else 3 if size <= 10_000 else 1
        direct = _median_ms(lambda frame=frame: predict_all(models, frame), repeats) / 1000
        dask = _median_ms(lambda frame=frame: predict_all(models, frame, dask=engine, dask_threshold=0), repeats) / 1000
        rows.append(
            {
                "rows": size,
                "direct_s": round(direct, 4),
                "dask_s": round(dask, 4),
                "dask_vs_direct": ratio(dask, direct),
            }
        )
        print(f"  {size:>9,} rows: direct {direct:8.3f} s, dask {dask:8.3f} s", flush=True)
    return rows


def plot(points: list[dict[str, Any]], models: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=120)
    sizes = [p["rows"] for p in points]
    axis.plot(sizes, [p["direct_s"] for p in points], marker="o", label="direct (in the web process)")
    axis.plot(sizes, [p["dask_s"] for p in points], marker="s", label="Dask (LocalCluster, 2 workers)")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("rows in the batch")
    axis.set_ylabel("seconds (validation + every model)")
    axis.set_title(f"Batch prediction time, {models} models, direct vs Dask")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def crossover(points: list[dict[str, Any]]) -> int | None:
    """The smallest measured batch size from which Dask is faster at that size and every larger one."""
    found = None
    for point in reversed(points):
        if point["dask_s"] >= point["direct_s"]:
            break
        found = point["rows"]
    return found


def run(options: Options) -> dict[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    features = read_bundled(DATASET).drop(columns=[config_for(DATASET).data.target])
    sizes = options.pick([10, 100, 1_000, 10_000, 100_000, 1_000_000], [10, 100, 1_000, 10_000])
    with running_s3(export=True):
        registry, version = ensure_version(DATASET, Storage(), reuse=options.reuse_models)
        models = load_models(registry.load(version))
    engine = DaskEngine(n_workers=2)
    try:
        started = time.perf_counter()
        predict_all(models, features.head(11), dask=engine, dask_threshold=10)
        first = time.perf_counter() - started
        overhead = measure_overhead(models, engine, features, options.pick(60, 20))
        points = sweep(models, engine, features, sizes)
    finally:
        engine.close()
    plot(points, len(models.models), PLOT)
    return {
        "version": {"dataset": DATASET, "version": version, "models": list(models.models)},
        "cluster_start_and_first_batch_s": round(first, 2),
        "overhead_11_rows": overhead,
        "time_vs_rows": points,
        "crossover_rows": crossover(points),
        "plot": str(PLOT.relative_to(RESULTS_DIR.parent.parent)),
    }


def report(results: dict[str, Any]) -> None:
    overhead = results["overhead_11_rows"]
    show_table(
        "Dask overhead at 11 rows (median, in-process predict_all)",
        ["path", "ms"],
        [
            ["direct, single-threaded (the app's small-batch mode)", overhead["direct_single_threaded_ms"]],
            ["direct, default thread pools", overhead["direct_default_threads_ms"]],
            ["Dask", overhead["dask_ms"]],
            ["overhead (Dask - faster direct)", overhead["overhead_ms"]],
        ],
    )
    show_table(
        f"time vs rows (crossover at {results['crossover_rows'] or 'none measured'} rows)",
        ["rows", "direct s", "Dask s", "Dask / direct"],
        [[p["rows"], p["direct_s"], p["dask_s"], p["dask_vs_direct"]] for p in results["time_vs_rows"]],
    )


def main(options: Options | None = None) -> None:
    print(f"wrote {run_part('dask', options, run, report)} and {PLOT}")


if __name__ == "__main__":
    main()
