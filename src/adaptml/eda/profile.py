"""Per-column facts the rest of the analysis builds on: kinds, statistics, the overview and discretised codes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import skew

from adaptml.jsonable import json_safe

__all__ = [
    "as_numbers",
    "column_kinds",
    "column_stats",
    "discretise",
    "json_safe",
    "overview",
    "sample_rows",
    "target_strata",
]

NUMERIC, CATEGORICAL, DATETIME = "numeric", "categorical", "datetime"


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """numeric, datetime or categorical for every column, from its dtype (the frame is already typed)."""
    kinds: dict[str, str] = {}
    for name in frame.columns:
        dtype = frame[name].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            kinds[str(name)] = DATETIME
        elif pd.api.types.is_numeric_dtype(dtype):
            kinds[str(name)] = NUMERIC
        else:
            kinds[str(name)] = CATEGORICAL
    return kinds


def sample_rows(frame: pd.DataFrame, limit: int, seed: int, *, strata: pd.Series | None = None) -> pd.DataFrame:
    """About ``limit`` rows, drawn reproducibly; the frame itself when it is small enough.

    With ``strata`` (one label per row, e.g. the class or a quantile bin of the target) every stratum keeps its share
    of the rows, so a rare class is not thinned out by chance (the leak and association checks run on the sample).
    """
    if len(frame) <= limit:
        return frame
    if strata is None:
        return frame.sample(n=limit, random_state=seed).sort_index()
    keys = strata.astype("object").where(strata.notna(), "\x00missing").to_numpy()
    picked = frame.groupby(keys, sort=False, group_keys=False).sample(frac=limit / len(frame), random_state=seed)
    return picked.sort_index()


def target_strata(values: pd.Series, task: str, bins: int = 10) -> pd.Series:
    """The strata of a stratified sample: the class, or the decile of a numeric target (missing: its own)."""
    if task != "regression":
        return values
    ranks = values.rank(method="first", pct=True)
    return pd.Series(np.ceil(ranks * bins), index=values.index).clip(1, bins)


def as_numbers(series: pd.Series, kind: str) -> np.ndarray:
    """float64 values of a numeric or datetime column (datetimes as seconds since the epoch), NaN where missing."""
    if kind == DATETIME:
        stamps = pd.to_datetime(series)
        seconds = stamps.astype("int64").astype("float64") / 1e9
        return np.where(stamps.isna().to_numpy(), np.nan, seconds.to_numpy())
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def column_stats(series: pd.Series, kind: str) -> dict[str, Any]:
    """Counts every column has, plus moments for numbers, the top value for categories and the range for dates."""
    present = series.dropna()
    rows = len(series)
    stats: dict[str, Any] = {
        "kind": kind,
        "missing": int(rows - len(present)),
        "missing_pct": float(100.0 * (rows - len(present)) / rows) if rows else 0.0,
        "distinct": int(present.nunique()),
    }
    if kind == NUMERIC and len(present):
        values = present.astype("float64")
        stats |= {
            "mean": float(values.mean()),
            "std": float(values.std()) if len(values) > 1 else 0.0,
            "min": float(values.min()),
            "median": float(values.median()),
            "max": float(values.max()),
            "zeros_pct": float(100.0 * (values == 0).mean()),
            "skew": float(skew(values.to_numpy(), bias=False)) if len(values) > 2 else 0.0,
        }
    elif kind == CATEGORICAL and len(present):
        counts = present.astype(str).value_counts()
        stats |= {"top": str(counts.index[0]), "top_pct": float(100.0 * counts.iloc[0] / len(present))}
    elif kind == DATETIME and len(present):
        stats |= {"min": pd.Timestamp(present.min()).isoformat(), "max": pd.Timestamp(present.max()).isoformat()}
    return json_safe(stats)


def overview(frame: pd.DataFrame, kinds: dict[str, str]) -> dict[str, Any]:
    """Dataset-wide counts: rows, columns, kinds, missing cells, duplicate rows and memory."""
    cells = frame.shape[0] * frame.shape[1]
    missing = int(frame.isna().to_numpy().sum())
    duplicates = int(frame.duplicated().sum()) if len(frame) else 0
    return {
        "rows": int(frame.shape[0]),
        "columns": int(frame.shape[1]),
        "types": {kind: sum(1 for k in kinds.values() if k == kind) for kind in (NUMERIC, CATEGORICAL, DATETIME)},
        "missing_cells": missing,
        "missing_cells_pct": 100.0 * missing / cells if cells else 0.0,
        "duplicate_rows": duplicates,
        "duplicate_rows_pct": 100.0 * duplicates / len(frame) if len(frame) else 0.0,
        "memory_bytes": int(frame.memory_usage(deep=True).sum()),
    }


def discretise(series: pd.Series, kind: str, *, bins: int = 16, levels: int = 24) -> np.ndarray:
    """Small integer codes for any column: quantile bins for numbers and dates, the top categories for text.

    Missing values get their own code, so association measures also see "missing" as information.
    """
    if kind == CATEGORICAL:
        text = series.astype("object").where(series.notna(), None)
        top = set(text.value_counts().index[: levels - 1])
        kept = text.map(lambda v: v if v is None or v in top else "\x00other")
        codes = pd.factorize(kept, use_na_sentinel=True)[0]
    else:
        values = as_numbers(series, kind)
        present = values[~np.isnan(values)]
        if present.size == 0:
            return np.zeros(len(values), dtype=np.int64)
        edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
        slot = np.searchsorted(edges, values, side="left")
        # A value equal to an edge gets its own code, so a point mass (say 95% zeros) stays apart from the rest.
        on_edge = edges[np.minimum(slot, len(edges) - 1)] == values
        codes = np.where(np.isnan(values), -1, 2 * slot + on_edge)
    codes = np.asarray(codes, dtype=np.int64)
    return np.where(codes < 0, codes.max() + 1, codes)
