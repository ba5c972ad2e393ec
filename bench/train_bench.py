"""Training benchmark: wall time per stage and in total for the bundled datasets, and the best test score against
FLAML given the same wall-clock budget on the same split.

adaptml trains with the real pipeline (``adaptml.pipeline.runner.train``, what ``adaptml train`` runs) against this
benchmark's own embedded S3 server. The exact train and test frames the pipeline split off (its
``split/*.parquet`` in the run workspace: train_test_split with test_size 0.2 and seed 0, stratified for adult)
go to FLAML, which runs in its own virtualenv (bench/.venvs/flaml) with a time budget equal to adaptml's whole run.
``hotel_rates (raw split)`` repeats hotel_rates with ``data.deduplicate: false``: the plain 80/20 split of every row
that the bar in the developers' guide (HGB, FLAML and AutoGluon figures) was measured on.
Results: bench/results/training.json.
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from adaptml.config import Config
from adaptml.registry import Registry
from adaptml.s3server import running_s3
from adaptml.storage import Storage
from bench.common import ROOT, Options, ratio, run_part, show_table
from bench.trained import CONFIGS, config_for, remember, seed_dataset, train_now
from bench.venvs import ensure_venv

FLAML_REQUIREMENTS = ["flaml[automl]", "pyarrow"]
DATASETS = ("hotel_rates", "adult", "hotel_rates (raw split)")
RAW_SPLIT = " (raw split)"


def bench_config(name: str) -> Config:
    """The bundled config of a benchmark entry; the raw-split entry keeps exact duplicate rows."""
    cfg = config_for(name.removesuffix(RAW_SPLIT))
    if not name.endswith(RAW_SPLIT):
        return cfg
    data = cfg.data.model_copy(update={"deduplicate": False})
    return cfg.model_copy(update={"project": f"{cfg.project}-raw", "data": data})


def adaptml_run(name: str, folder: Path) -> dict[str, Any]:
    """Train once; keep the version for the serving benchmarks and export the split the run used."""
    cfg = bench_config(name)
    with running_s3(export=True):
        storage = Storage()
        seed_dataset(cfg, storage)
        started = time.perf_counter()
        result = train_now(cfg, storage)
        wall = time.perf_counter() - started
        registry = Registry(cfg.registry, cfg.project, storage=storage)
        if name in CONFIGS:
            remember(name, registry, result.version)
        workspace = registry.runs_uri(result.run_id)
        for part in ("train", "test"):
            (folder / f"{part}.parquet").write_bytes(storage.get_bytes(workspace.join(f"split/{part}.parquet")))
    board = result.leaderboard
    best = board.iloc[0]
    return {
        "version": result.version,
        "task": result.task,
        "metric": result.metric,
        "higher_is_better": result.higher_is_better,
        "stage_seconds": {k: round(v, 2) for k, v in result.stage_seconds.items()},
        "total_seconds": round(wall, 1),
        "best_model": str(best["model"]),
        "best_test_score": float(best[result.metric]),
        "leaderboard": [
            {"model": str(row["model"]), result.metric: float(row[result.metric])} for _, row in board.iterrows()
        ],
    }


def flaml_run(name: str, folder: Path, ours: dict[str, Any]) -> dict[str, Any]:
    python = ensure_venv("flaml", FLAML_REQUIREMENTS, with_adaptml=False)
    out = folder / "flaml.json"
    cfg = bench_config(name)
    command = [
        str(python),
        str(ROOT / "bench" / "peer_flaml.py"),
        str(folder / "train.parquet"),
        str(folder / "test.parquet"),
        cfg.data.target,
        ours["task"],
        ours["metric"],
        str(ours["total_seconds"]),
    ]
    started = time.perf_counter()
    subprocess.run([*command, str(out)], check=True, timeout=ours["total_seconds"] * 3 + 300, stdout=subprocess.DEVNULL)
    return {**json.loads(out.read_text()), "process_seconds": round(time.perf_counter() - started, 1)}


def compare(ours: dict[str, Any], flaml: dict[str, Any]) -> dict[str, Any]:
    higher = ours["higher_is_better"]
    ahead = ours["best_test_score"] >= flaml["test_score"] if higher else ours["best_test_score"] <= flaml["test_score"]
    return {
        "adaptml_at_least_flaml": bool(ahead),
        "score_ratio_adaptml_over_flaml": ratio(ours["best_test_score"], flaml["test_score"]),
        "wall_ratio_flaml_over_adaptml": ratio(flaml["process_seconds"], ours["total_seconds"]),
    }


def run(options: Options) -> dict[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("luigi-interface").setLevel(logging.CRITICAL)
    results: dict[str, Any] = {}
    for dataset in options.pick(DATASETS, DATASETS[:1]):
        with tempfile.TemporaryDirectory() as workdir:
            print(f"  {dataset}: adaptml train ...", flush=True)
            ours = adaptml_run(dataset, Path(workdir))
            print(f"  {dataset}: FLAML with a {ours['total_seconds']:.0f} s budget ...", flush=True)
            flaml = flaml_run(dataset, Path(workdir), ours)
        results[dataset] = {"adaptml": ours, "flaml": flaml, "comparison": compare(ours, flaml)}
    return {"datasets": results}


def report(results: dict[str, Any]) -> None:
    for dataset, part in results["datasets"].items():
        ours = part["adaptml"]
        show_table(
            f"adaptml train {dataset}: wall time per stage",
            ["stage", "seconds"],
            [*ours["stage_seconds"].items(), ["total (wall)", ours["total_seconds"]]],
        )
    rows = []
    for dataset, part in results["datasets"].items():
        ours, flaml, comparison = part["adaptml"], part["flaml"], part["comparison"]
        rows.append(
            [
                f"{dataset} ({ours['metric']}, {'higher' if ours['higher_is_better'] else 'lower'} is better)",
                f"{ours['best_test_score']:.4f} ({ours['best_model']})",
                f"{flaml['test_score']:.4f} ({flaml['best_learner']})",
                ours["total_seconds"],
                flaml["process_seconds"],
                "yes" if comparison["adaptml_at_least_flaml"] else "no",
            ]
        )
    show_table(
        "best test score at equal wall-clock time (same split)",
        ["dataset", "adaptml", "FLAML", "adaptml s", "FLAML s", "adaptml >= FLAML"],
        rows,
    )


def main(options: Options | None = None) -> None:
    print(f"wrote {run_part('training', options, run, report)}")


if __name__ == "__main__":
    main()
