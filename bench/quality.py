"""``python -m bench quality [--only NAME,...] [--budget SECONDS]``: the robustness corpus through the real CLI.

For each dataset of bench/corpus/ the frozen training file is uploaded to this run's embedded S3 server and
``adaptml train CONFIG`` runs as a child process with a config of project, data.uri, data.target and registry only
(plus the time budget when ``--budget`` is given). The published best model is read back from the registry and
scored on the held-back 20 %, beside a default HistGradientBoosting fitted on the same raw rows. Wall time, crash
and error message are recorded. Results: bench/results/quality.json and bench/results/quality.md.

Each dataset's record keeps ``adaptml``, ``baselines`` and ``peers`` apart, so peers (FLAML, AutoGluon at the same
wall time) slot into ``peers`` later without changing the rest.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from adaptml.config import DEFAULT_TIME_BUDGET_SECONDS, Config
from adaptml.registry import Registry
from adaptml.s3server import running_s3
from adaptml.storage import Storage
from bench.common import RESULTS_DIR, load_average, write_results
from bench.corpus.datasets import Dataset, by_name
from bench.corpus.scoring import hgb_baseline, read_split, score_published
from bench.quality_report import write_markdown

BUCKET = "adaptml-corpus"
LOGS_DIR = Path(__file__).resolve().parent / ".cache" / "quality-logs"


def train_config(dataset: Dataset, bucket: str, *, budget: float | None = None, **extra: Any) -> dict[str, Any]:
    """What a new user writes: project, data.uri, data.target and registry (and a time budget, if asked)."""
    config: dict[str, Any] = {
        "project": dataset.name,
        "data": {"uri": f"s3://{bucket}/data/{dataset.name}.csv.gz", "target": dataset.target},
        "registry": f"s3://{bucket}/registry",
        **extra,
    }
    if budget is not None:
        if "time_budget_seconds" in Config.model_fields:
            config["time_budget_seconds"] = budget
        else:
            config["tuning"] = {**config.get("tuning", {}), "budget_seconds": budget}
    return config


def upload(dataset: Dataset, storage: Storage, config: dict[str, Any]) -> None:
    storage.ensure_bucket(config["registry"].removeprefix("s3://").split("/", 1)[0])
    storage.put_bytes(config["data"]["uri"], dataset.train_path.read_bytes())


def error_line(stderr: str) -> str:
    """The CLI's one-line ``error:`` message, or a traceback's last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("error:"):
            return line
    return lines[-1] if lines else "no output"


def cli_train(config_path: Path, log: Path, *, timeout: float) -> dict[str, Any]:
    """``adaptml train CONFIG`` in a child process (the S3 environment is inherited); never raises."""
    command = [sys.executable, "-m", "adaptml.cli", "train", str(config_path)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))
    except subprocess.TimeoutExpired as expired:
        out = expired.stdout.decode() if isinstance(expired.stdout, bytes) else expired.stdout or ""
        log.write_text(out)
        return {"status": "timeout", "error": f"no result within {timeout:.0f} s", "wall_seconds": round(timeout, 1)}
    wall = round(time.perf_counter() - started, 1)
    log.write_text(f"$ {' '.join(command)}\n{done.stdout}\n--- stderr ---\n{done.stderr}")
    if done.returncode != 0:
        return {"status": "crash", "error": error_line(done.stderr), "wall_seconds": wall}
    return {"status": "ok", "error": None, "wall_seconds": wall}


def run_dataset(dataset: Dataset, storage: Storage, folder: Path, *, budget: float | None) -> dict[str, Any]:
    train, test = read_split(dataset)
    config = train_config(dataset, BUCKET, budget=budget)
    upload(dataset, storage, config)
    config_path = folder / f"{dataset.name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    LOGS_DIR.mkdir(parents=True, exist_ok=True)
    timeout = 1800.0 if budget is None else max(600.0, budget * 20)
    ours = cli_train(config_path, LOGS_DIR / f"{dataset.name}.log", timeout=timeout)
    if ours["status"] == "ok":
        registry = Registry(config["registry"], dataset.name, storage=storage)
        try:
            ours.update(score_published(dataset, registry, test))
            ours.update(fit_facts(registry.load().manifest, ours["wall_seconds"], budget))
        except Exception as error:  # a model that publishes but cannot score is a finding, not a bench failure
            ours.update(status="score error", error=f"{type(error).__name__}: {error}")
    try:
        hgb = hgb_baseline(dataset, train, test)
    except Exception as error:
        hgb = {"status": "crash", "error": f"{type(error).__name__}: {error}"}
    return {
        "rows": len(train) + len(test),
        "cols": train.shape[1],
        "test_rows": len(test),
        "task": dataset.task,
        "metric": dataset.metric,
        "higher_is_better": dataset.metric != "rmse",
        "target": dataset.target,
        "source": f"{dataset.source.package}=={dataset.source.version}:{dataset.member}",
        "covers": list(dataset.covers),
        "adaptml": ours,
        "baselines": {"hgb": hgb},
        "peers": {},
    }


def fit_facts(manifest: dict[str, Any], wall: float, budget: float | None) -> dict[str, Any]:
    """The time budget the run had and its overrun (CLI wall time minus budget), refit or not, skipped models."""
    seconds = DEFAULT_TIME_BUDGET_SECONDS if budget is None else budget
    return {
        "budget_seconds": seconds,
        "overrun_seconds": round(wall - seconds, 1) if seconds else None,
        "elapsed_at_publish": manifest.get("time_budget", {}).get("elapsed_at_publish"),
        "refit": manifest.get("refit"),
        "refit_reason": manifest.get("refit_reason"),
        "skipped": sorted(manifest.get("skipped", {})),
    }


def show(name: str, record: dict[str, Any]) -> None:
    ours, hgb, metric = record["adaptml"], record["baselines"]["hgb"], record["metric"]
    figure = f"{ours.get(metric, float('nan')):.4f}" if metric in ours else ours["status"]
    print(f"  {name}: adaptml {figure} in {ours['wall_seconds']} s, HGB {hgb.get(metric, 'crash')}", flush=True)
    if "fit_rows" in ours:
        budget = f"budget {ours.get('budget_seconds')} s, overrun {ours.get('overrun_seconds')} s"
        fit = f"fit_rows {ours['fit_rows']}, refit {ours.get('refit')}, skipped {ours.get('skipped')}"
        print(f"    {budget}; {fit}; best {ours.get('best_model')}", flush=True)
    if ours.get("error"):
        print(f"    {ours['error']}", flush=True)


def run(datasets: tuple[Dataset, ...], *, budget: float | None, summary: dict[str, Any]) -> dict[str, Any]:
    """Every dataset in turn; the results files are rewritten after each, so a stopped run keeps what it measured."""
    results: dict[str, Any] = {}
    with running_s3(export=True), tempfile.TemporaryDirectory() as folder:
        storage = Storage()
        storage.ensure_bucket(BUCKET)
        for dataset in datasets:
            print(f"== {dataset.name}", flush=True)
            results[dataset.name] = run_dataset(dataset, storage, Path(folder), budget=budget)
            show(dataset.name, results[dataset.name])
            done = {**summary, "complete": len(results) == len(datasets), "datasets": results}
            write_results("quality", done)
            write_markdown(results, RESULTS_DIR / "quality.md", budget=budget)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench quality", description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated dataset names (default: the whole corpus)")
    parser.add_argument("--budget", type=float, default=None, help="time budget in seconds written to the config")
    args = parser.parse_args(argv)
    summary = {"budget_seconds": args.budget, "only": args.only or None, "load_average_at_start": load_average()}
    run(by_name(args.only), budget=args.budget, summary=summary)
    print(f"wrote {RESULTS_DIR / 'quality.json'} and {RESULTS_DIR / 'quality.md'}")
    return 0
