"""Data-quality alerts in the spirit of ydata-profiling: each rule looks at precomputed facts, never the raw file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from adaptml.eda.profile import CATEGORICAL, NUMERIC
from adaptml.eda.result import Alert

__all__ = ["THRESHOLDS", "collect_alerts"]

THRESHOLDS = {
    "high_cardinality": 50,  # distinct categories
    "high_correlation": 0.9,  # |Pearson| between numbers, Cramér's V otherwise
    "skew": 3.0,  # |skewness| of a feature with more than 10 distinct values
    "many_missing_pct": 50.0,
    "missing_pct": 10.0,
    "zeros_pct": 50.0,
    "dominated_pct": 90.0,
    "imbalance_ratio": 9.0,  # majority / minority class size of a classification target
    "target_skew": 2.0,
}


def _column_alerts(name: str, stats: dict[str, Any], series: pd.Series) -> Iterator[Alert]:
    """Alerts about one column on its own."""
    distinct, present = stats["distinct"], len(series) - stats["missing"]
    if distinct <= 1:
        what = "every value is missing" if present == 0 else f"every present value is {series.dropna().iloc[0]!r}"
        yield Alert("constant", name, f"{name} is constant: {what}", "warning")
        return
    if stats["missing_pct"] >= THRESHOLDS["many_missing_pct"]:
        yield Alert("many_missing", name, f"{name} is {stats['missing_pct']:.1f}% missing", "warning")
    elif stats["missing_pct"] >= THRESHOLDS["missing_pct"]:
        yield Alert("missing", name, f"{name} is {stats['missing_pct']:.1f}% missing", "info")
    if stats["kind"] == CATEGORICAL:
        yield from _categorical_alerts(name, stats, present)
    elif stats["kind"] == NUMERIC:
        yield from _numeric_alerts(name, stats, series, present)


def _categorical_alerts(name: str, stats: dict[str, Any], present: int) -> Iterator[Alert]:
    distinct = stats["distinct"]
    if distinct == present and present > THRESHOLDS["high_cardinality"]:
        yield Alert("unique", name, f"every value of {name} is distinct: an identifier?", "warning")
    elif distinct > THRESHOLDS["high_cardinality"]:
        yield Alert("high_cardinality", name, f"{name} has {distinct:,} distinct values", "warning")
    if stats["top_pct"] >= THRESHOLDS["dominated_pct"]:
        message = f"{name} is dominated by {stats['top']!r} ({stats['top_pct']:.1f}% of present values)"
        yield Alert("imbalance", name, message, "info")


def _numeric_alerts(name: str, stats: dict[str, Any], series: pd.Series, present: int) -> Iterator[Alert]:
    values = series.dropna().to_numpy(dtype="float64")
    if stats["distinct"] == present > THRESHOLDS["high_cardinality"] and bool(np.all(values == np.round(values))):
        message = f"every value of {name} is a distinct integer: a row number or identifier?"
        yield Alert("unique", name, message, "warning")
    if stats["distinct"] > 10 and abs(stats["skew"]) > THRESHOLDS["skew"]:
        yield Alert("skewed", name, f"{name} is highly skewed (skewness {stats['skew']:.1f})", "info")
    if stats["distinct"] > 2 and stats["zeros_pct"] >= THRESHOLDS["zeros_pct"]:
        yield Alert("zeros", name, f"{name} is zero in {stats['zeros_pct']:.1f}% of rows", "info")


def _target_alerts(name: str, series: pd.Series, task: str, stats: dict[str, Any]) -> Iterator[Alert]:
    if stats["distinct"] <= 1:
        yield Alert("constant", name, f"the target {name} is constant: there is nothing to learn", "warning")
    if stats["missing"]:
        yield Alert("target_missing", name, f"the target {name} is missing in {stats['missing']:,} rows", "warning")
    if task == "regression":
        if stats.get("skew") is not None and abs(stats["skew"]) > THRESHOLDS["target_skew"]:
            message = f"the target {name} is skewed (skewness {stats['skew']:.1f}); a log transform may help"
            yield Alert("skewed", name, message, "info")
        return
    counts = series.dropna().astype(str).value_counts()
    if len(counts) >= 2 and counts.iloc[0] >= THRESHOLDS["imbalance_ratio"] * counts.iloc[-1]:
        share = 100.0 * counts / counts.sum()
        message = (
            f"the target {name} is imbalanced: {counts.index[0]!r} {share.iloc[0]:.1f}% vs {counts.index[-1]!r} "
            f"{share.iloc[-1]:.1f}% ({counts.iloc[0] / counts.iloc[-1]:.0f}:1); stratify and use balanced metrics"
        )
        yield Alert("imbalance", name, message, "warning")


def _correlation_alerts(pairs: list[tuple[str, str, float, str]]) -> Iterator[Alert]:
    for left, right, value, measure in pairs:
        message = f"{left} and {right} are highly correlated ({measure} = {value:.2f})"
        yield Alert("high_correlation", left, message, "info")


def collect_alerts(
    frame: pd.DataFrame,
    stats: dict[str, dict[str, Any]],
    overview: dict[str, Any],
    correlated: list[tuple[str, str, float, str]],
    *,
    target: str,
    task: str,
) -> tuple[Alert, ...]:
    """Every alert, warnings first; ``correlated`` lists feature pairs at or above the correlation threshold."""
    alerts: list[Alert] = []
    if overview["duplicate_rows"]:
        message = f"{overview['duplicate_rows']:,} duplicate rows ({overview['duplicate_rows_pct']:.1f}%)"
        alerts.append(Alert("duplicates", None, message, "info"))
    for name in frame.columns:
        if name == target:
            alerts.extend(_target_alerts(name, frame[name], task, stats[name]))
        else:
            alerts.extend(_column_alerts(str(name), stats[str(name)], frame[name]))
    alerts.extend(_correlation_alerts(correlated))
    return tuple(sorted(alerts, key=lambda a: a.severity != "warning"))
