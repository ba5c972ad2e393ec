"""The equivalence gate: a model's fast path is used only if it reproduces the pickled pipeline on gate records.

Gate records are the version's ``gate.csv`` (raw training records written at publish) when it has one, else the
schema's example record plus records drawn from the schema's categories and ranges ("schema-derived"). Both paths
score them; the fast path is enabled only if every label matches exactly and every value and probability is within
the family's tolerance, ``|fast - pickled| <= tolerance * max(1, |pickled|)``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from adaptml.schema import ColumnSpec, Schema

__all__ = ["GATE_FILE", "GATE_SCHEMA", "SYNTHETIC_ROWS", "TOLERANCE", "FastPath", "compare", "gate_records"]

GATE_FILE = "gate.csv"  # raw training records a published version carries for this gate
GATE_SCHEMA = "schema-derived"
SYNTHETIC_ROWS = 300
MISSING_SHARE = 0.1
# float64 arithmetic in another order (BLAS dot, summing trees) moves the last bits only; XGBoost computes in float32
TOLERANCE = {
    "linear": 1e-9,
    "forest": 1e-9,
    "hist_gradient_boosting": 1e-9,
    "lightgbm": 1e-9,
    "xgboost": 1e-6,
    "dummy": 0.0,
    "ensemble": 1e-6,
}


@dataclass(frozen=True)
class FastPath:
    """Whether a model's compiled scorer serves it, and why not."""

    enabled: bool
    reason: str | None = None
    family: str | None = None
    gate: str | None = None
    gate_records: int = 0
    max_difference: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "reason": self.reason,
            "family": self.family,
            "gate": self.gate,
            "gate_records": self.gate_records,
            "max_difference": self.max_difference,
        }


def _synthetic_column(spec: ColumnSpec, rng: np.random.Generator, rows: int) -> list[Any]:
    if spec.kind == "categorical":
        choices = [*spec.categories, "adaptml-unseen"] if spec.categories else ["adaptml-unseen"]
        values: list[Any] = [str(v) for v in rng.choice(np.asarray(choices, dtype=object), rows)]
    elif spec.kind == "datetime":
        first = pd.Timestamp(spec.min) if spec.min is not None else pd.Timestamp("2000-01-01")
        last = pd.Timestamp(spec.max) if spec.max is not None else first + pd.Timedelta(days=3650)
        span = max(1, (last - first).days)
        values = [(first + pd.Timedelta(days=int(d))).date().isoformat() for d in rng.integers(0, span + 1, rows)]
    else:
        low = float(spec.min) if isinstance(spec.min, int | float) else 0.0
        high = float(spec.max) if isinstance(spec.max, int | float) else low + 1.0
        drawn = rng.uniform(low, high, rows)
        values = list(np.round(drawn) if spec.integer else drawn)
    missing = rng.random(rows) < MISSING_SHARE
    return [None if gone else value for value, gone in zip(values, missing, strict=True)]


def _schema_records(schema: Schema, rows: int = SYNTHETIC_ROWS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    drawn = pd.DataFrame({spec.name: _synthetic_column(spec, rng, rows) for spec in schema.columns})
    example = pd.DataFrame([{name: schema.example.get(name) for name in schema.names}])
    return pd.concat([example, drawn], ignore_index=True)


def gate_records(schema: Schema, files: dict[str, bytes]) -> tuple[pd.DataFrame, str]:
    """The raw records to gate on, and where they come from (``gate.csv`` or ``schema-derived``)."""
    data = files.get(GATE_FILE)
    if data:
        frame = pd.read_csv(io.BytesIO(data), low_memory=False)
        present = [name for name in schema.names if name in frame.columns]
        if len(frame) and present:
            return frame.reindex(columns=schema.names).reset_index(drop=True), GATE_FILE
    return _schema_records(schema), GATE_SCHEMA


def _largest_difference(fast: np.ndarray, pickled: np.ndarray) -> float:
    """The largest difference relative to ``max(1, |pickled|)``, over cells both paths computed."""
    a, b = np.asarray(fast, dtype="float64"), np.asarray(pickled, dtype="float64")
    if a.shape != b.shape:
        return float("inf")
    both_missing = np.isnan(a) & np.isnan(b)
    scaled = np.abs(a - b) / np.maximum(1.0, np.abs(b))
    scaled[both_missing] = 0.0
    return float(np.nanmax(np.where(np.isnan(scaled), np.inf, scaled))) if scaled.size else 0.0


def compare(fast: Any, pickled: Any, *, classes: bool, tolerance: float) -> tuple[str | None, float]:
    """Why two ``ModelOutput``s are not equivalent (None if they are), and the largest value difference."""
    if pickled.errors:
        row = min(pickled.errors)
        return f"the pickled pipeline fails on gate record {row + 1} ({pickled.errors[row]})", float("nan")
    if fast.errors:
        row = min(fast.errors)
        return f"the fast path fails on gate record {row + 1} ({fast.errors[row]})", float("nan")
    if classes:
        differs = np.flatnonzero(np.asarray(fast.predictions != pickled.predictions, dtype=bool))
        if differs.size:
            return f"labels differ on gate record {int(differs[0]) + 1}", float("nan")
        largest = _largest_difference(fast.probabilities, pickled.probabilities)
    else:
        largest = _largest_difference(fast.predictions, pickled.predictions)
    if largest > tolerance:
        return f"values differ by {largest:.3g} (tolerance {tolerance:g})", largest
    return None, largest
