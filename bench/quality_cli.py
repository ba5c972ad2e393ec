"""adaptml as a new user runs it, for ``python -m bench quality``: the minimal config, the upload to this run's
embedded S3, ``adaptml train CONFIG`` as a child process, and the time-budget facts read back from its manifest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from adaptml.config import DEFAULT_TIME_BUDGET_SECONDS, Config
from adaptml.storage import Storage
from bench.corpus.datasets import Dataset

__all__ = ["cli_train", "error_line", "fit_facts", "train_config", "upload"]


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
