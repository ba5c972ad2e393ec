"""What a published version holds: the run id, the files (relative path -> bytes) and the manifest metadata."""

from __future__ import annotations

import hashlib
import io
import json
import math
import platform
from collections.abc import Mapping
from importlib import metadata as importlib_metadata
from typing import Any

import pandas as pd

from adaptml.config import Config
from adaptml.schema import Schema
from adaptml.training.task import TaskInfo

__all__ = [
    "GATE_FILE",
    "LIBRARIES",
    "gate_csv",
    "json_bytes",
    "leaderboard_records",
    "library_versions",
    "metrics_csv",
    "run_id",
    "version_files",
    "version_metadata",
]

GATE_FILE = "gate.csv"  # the name adaptml.serving.compiled.GATE_FILE reads (not imported: that loads the web app)
LIBRARIES = ("adaptml", "scikit-learn", "lightgbm", "xgboost-cpu", "catboost", "pandas", "numpy", "scipy", "luigi")


def run_id(config: Config, data_sha256: str, package_version: str) -> str:
    """Deterministic id of a training run: same config (serving settings aside), data and package -> same id."""
    training = {k: v for k, v in config.to_dict().items() if k != "serving"}
    payload = json.dumps({"config": training, "data": data_sha256, "adaptml": package_version}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def _finite(value: Any) -> Any:
    """JSON-safe scalars: NaN and infinities become null, numpy scalars plain Python."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=False, default=str).encode("utf-8")


def leaderboard_records(board: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _finite(v) for k, v in row.items()} for row in board.to_dict(orient="records")]


def metrics_csv(board: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    board.to_csv(buffer, index=False, float_format="%.6g")
    return buffer.getvalue().encode("utf-8")


def gate_csv(raw: pd.DataFrame, schema: Schema, *, rows: int, seed: int) -> bytes:
    """A seeded sample of ``rows`` raw records, the schema's input columns only, as the CSV a user would upload."""
    columns = [name for name in schema.names if name in raw.columns]
    sample = raw.sample(n=rows, random_state=seed) if rows < len(raw) else raw
    return sample[columns].to_csv(index=False).encode("utf-8")


def version_files(
    *,
    board: pd.DataFrame,
    schema: Schema,
    models: Mapping[str, bytes],
    eda_files: Mapping[str, bytes],
    reports: Mapping[str, Any],
) -> dict[str, bytes]:
    """Every file of a version, by path: metrics.csv, schema.json, models/*.pkl, eda/*, reports/*.json."""
    files = {"metrics.csv": metrics_csv(board), "schema.json": schema.to_json().encode("utf-8")}
    files.update({f"models/{name}.pkl": data for name, data in models.items()})
    files.update({f"eda/{path}": data for path, data in eda_files.items()})
    files.update({f"reports/{name}.json": json_bytes(report) for name, report in reports.items()})
    return files


def version_metadata(
    *,
    config: Config,
    board: pd.DataFrame,
    schema: Schema,
    info: TaskInfo,
    data_sha256: str,
    run: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest metadata: leaderboard, schema, task and metric, libraries, config, data checksum, run id."""
    return {
        "leaderboard": leaderboard_records(board),
        "best_model": str(board.iloc[0]["model"]),
        "schema": schema.to_dict(),
        "task": info.task,
        "metric": info.metric,
        "higher_is_better": info.higher_is_better,
        "classes": list(info.classes),
        "libraries": library_versions(),
        "config": config.to_dict(),
        "data_sha256": data_sha256,
        "run_id": run,
        **dict(extra or {}),
    }
