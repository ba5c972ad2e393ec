"""``explore``: the exploratory analysis of a cleaned, typed frame as one pure function (no I/O, input untouched)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import adaptml.eda.figures as figures
import adaptml.eda.plots as plots
from adaptml.eda.alerts import THRESHOLDS, collect_alerts
from adaptml.eda.association import association_matrix, high_pairs, target_association
from adaptml.eda.cleaning import cleaning_lines, cleaning_tables
from adaptml.eda.leakage import (
    FOLDS,
    LEVEL_COVERAGE,
    LEVEL_PURITY,
    LEVEL_ROWS,
    METRIC,
    ORDINAL_LEVELS,
    PAIR_POOL,
    SINGLE_THRESHOLD,
    TREE_DEPTH,
    find_leakage,
)
from adaptml.eda.profile import (
    NUMERIC,
    column_kinds,
    column_stats,
    discretise,
    json_safe,
    overview,
    sample_rows,
    target_strata,
)
from adaptml.eda.report import APP_LINK, ReportParts, render_report
from adaptml.eda.result import EdaResult
from adaptml.errors import DataError

__all__ = ["SAMPLE_ROWS", "explore"]

SAMPLE_ROWS = 20_000  # rows of the seeded, target-stratified sample every plot, association and leak check uses
MAX_COLUMN_PLOTS = 40  # distribution PNGs: the target's, then the columns most associated with it
MATRIX_COLUMNS = 60  # the all-pairs association matrix: the target and the columns most associated with it
RELATED_FIGURES = 4
TASKS = ("regression", "classification")


def _validate(frame: pd.DataFrame, target: str, task: str) -> None:
    if task not in TASKS:
        raise DataError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if target not in frame.columns:
        raise DataError(f"the target column {target!r} is not in the data")
    if frame.columns.has_duplicates:
        raise DataError(f"duplicate column names: {sorted(set(map(str, frame.columns[frame.columns.duplicated()])))}")
    if not all(isinstance(name, str) for name in frame.columns):
        raise DataError("column names must be strings")
    if frame.empty or frame[target].notna().sum() == 0:
        raise DataError(f"nothing to explore: no rows with a value for the target {target!r}")
    if task == "regression" and not pd.api.types.is_numeric_dtype(frame[target]):
        raise DataError(f"a regression target must be numeric; {target!r} has dtype {frame[target].dtype}")


def _plot_paths(names: list[str]) -> dict[str, str]:
    """A distinct, file-system-safe plots/ path per column."""
    paths: dict[str, str] = {}
    for name in names:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "column"
        path, n = f"plots/dist_{slug}.png", 2
        while path in paths.values():
            path, n = f"plots/dist_{slug}_{n}.png", n + 1
        paths[name] = path
    return paths


def _numeric_correlation(sample: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Pearson correlation of the numeric columns that vary (the target included when it is numeric)."""
    names = [n for n, k in kinds.items() if k == NUMERIC and sample[n].nunique() > 1]
    return sample[names].astype("float64").corr() if len(names) >= 2 else pd.DataFrame()


def _correlated_pairs(
    pearson: pd.DataFrame, assoc: pd.DataFrame, kinds: dict[str, str], target: str
) -> list[tuple[str, str, float, str]]:
    """Feature pairs above the threshold: Pearson between numbers, Cramér's V when either side is not a number."""
    threshold = THRESHOLDS["high_correlation"]
    pairs = [(a, b, v, "ρ") for a, b, v in high_pairs(pearson, threshold, exclude=target)] if len(pearson) else []
    for a, b, v in high_pairs(assoc, threshold, exclude=target):
        if kinds[a] != NUMERIC or kinds[b] != NUMERIC:
            pairs.append((a, b, v, "Cramér's V"))
    return pairs


def _missing_patterns(sample: pd.DataFrame, limit: int = 10) -> list[tuple[str, int]]:
    """The most frequent sets of columns missing together (complete rows included)."""
    columns = [c for c in sample.columns if sample[c].isna().any()]
    if not columns:
        return []
    counts = sample[columns].isna().value_counts().head(limit)
    patterns = []
    for flags, count in counts.items():
        missing = [c for c, flag in zip(columns, flags if isinstance(flags, tuple) else (flags,), strict=True) if flag]
        patterns.append((", ".join(map(str, missing)) or "(complete rows)", int(count)))
    return patterns


class _Clock:
    """The EDA's time allowance: optional work (plots beyond the target's) stops once it is spent."""

    def __init__(self, seconds: float | None) -> None:
        self.end = None if seconds is None else time.perf_counter() + max(0.0, seconds)

    def spent(self) -> bool:
        return self.end is not None and time.perf_counter() >= self.end


def _plot_order(a: _Analysis) -> list[str]:
    """The columns to draw, most useful first: the target, then by association with it, at most MAX_COLUMN_PLOTS."""
    related = [name for name in a.related if name in a.kinds]
    rest = [name for name in a.kinds if name != a.target and name not in related]
    return [a.target, *related, *rest][:MAX_COLUMN_PLOTS]


def _pngs(a: _Analysis, clock: _Clock) -> tuple[dict[str, bytes], dict[str, str], dict[str, str]]:
    """Every PNG keyed by its path, the drawn columns' paths and the section-level paths keyed by section.

    The target's plot is always drawn; the section plots and the other columns' only while the allowance lasts.
    """
    paths = _plot_paths(list(a.kinds))
    order = _plot_order(a)
    pngs = {paths[a.target]: plots.distribution_png(a.sample[a.target], a.kinds[a.target], a.target)}
    extra: dict[str, str] = {}
    if len(a.pearson) >= 2 and not clock.spent():
        pngs["plots/correlation.png"] = plots.correlation_png(a.pearson.fillna(0.0), "Pearson correlation (numeric)")
        extra["correlations"] = "plots/correlation.png"
    matrix = None if clock.spent() else plots.missing_matrix_png(a.sample)
    if matrix is not None:
        pngs["plots/missing_matrix.png"], extra["missing"] = matrix, "plots/missing_matrix.png"
    for name in order[1:]:
        if clock.spent():
            break
        pngs[paths[name]] = plots.distribution_png(a.sample[name], a.kinds[name], name)
    return pngs, {name: path for name, path in paths.items() if path in pngs}, extra


def _figures(analysis: _Analysis, clock: _Clock) -> dict[str, list[go.Figure]]:
    """The plotly figures of each section (about ten in all, to keep the page light); the target-vs-feature ones
    only while the allowance lasts."""
    a, target, task = analysis, analysis.target, analysis.task
    top = [name for name, score in a.related.items() if score > 0][:RELATED_FIGURES]
    related = []
    for name in top:
        if clock.spent():
            break
        related.append(figures.target_vs_feature(a.sample, name, a.kinds[name], target=target, task=task))
    missing_pct = {n: s["missing_pct"] for n, s in a.stats.items()}
    found: dict[str, list[go.Figure]] = {
        "target": [figures.target_figure(a.sample[target], task, target)],
        "related": [figures.ranking_bar(a.related, f"Association with {target}", a.measure), *related],
        "correlations": [],
        "missing": [figures.missing_bar(missing_pct)] if any(missing_pct.values()) else [],
    }
    if len(a.pearson) >= 2:
        found["correlations"].append(figures.heatmap(a.pearson, "Pearson correlation (numeric)", zmin=-1))
    found["correlations"].append(
        figures.heatmap(a.association, "Association of all columns (Cramér's V on binned values)", zmin=0)
    )
    return found


def _leakage_scope(task: str, kinds: dict[str, str], sample: pd.DataFrame, target: str) -> str:
    multiclass = task == "classification" and sample[target].nunique() > 2
    kind = "regression" if task == "regression" else "multiclass" if multiclass else "binary"
    single = (
        f"Checked each feature alone ({FOLDS}-fold cross-validated depth-{TREE_DEPTH} tree, or out-of-fold group "
        f"means for categories; flagged when {METRIC[kind]} >= {SINGLE_THRESHOLD[kind]})"
    )
    if task == "classification":
        single += (
            f", each level of a category or of a number with at most {ORDINAL_LEVELS} values (flagged when at least "
            f"{LEVEL_ROWS} rows are {LEVEL_PURITY:.1%} one class and hold {LEVEL_COVERAGE:.0%} or more of its rows)"
        )
    if multiclass:
        return single + "; pairwise combinations are not checked for more than two classes."
    pool = min(PAIR_POOL, sum(1 for n, k in kinds.items() if k == NUMERIC and n != target))
    return single + f" and a×b, a/b, a+b, a−b for every pair of the {pool} numeric columns most correlated with it."


@dataclass(frozen=True)
class _Analysis:
    """The numbers behind the report, computed once."""

    target: str
    task: str
    kinds: dict[str, str]
    sample: pd.DataFrame
    stats: dict[str, dict[str, Any]]
    facts: dict[str, Any]
    related: dict[str, float]
    measure: str
    pearson: pd.DataFrame
    association: pd.DataFrame


def _matrix_codes(codes: dict[str, np.ndarray], related: dict[str, float], target: str) -> dict[str, np.ndarray]:
    """The codes of the all-pairs matrix's columns (it grows with the square of their number), in column order."""
    keep = {target, *list(related)[: MATRIX_COLUMNS - 1]}
    return {name: column for name, column in codes.items() if name in keep}


def _analyse(frame: pd.DataFrame, target: str, task: str, seed: int) -> _Analysis:
    kinds = column_kinds(frame)
    sample = sample_rows(frame, SAMPLE_ROWS, seed, strata=target_strata(frame[target], task))
    codes = {name: discretise(sample[name], kind) for name, kind in kinds.items()}
    known = sample[target].notna().to_numpy()
    features = {n: c[known] for n, c in codes.items() if n != target}
    related = target_association(features, sample[target][known], task=task)
    return _Analysis(
        target=target,
        task=task,
        kinds=kinds,
        sample=sample,
        stats={name: column_stats(frame[name], kind) for name, kind in kinds.items()},
        facts=overview(frame, kinds),
        related=related,
        measure="correlation ratio η" if task == "regression" else "Cramér's V",
        pearson=_numeric_correlation(sample, kinds),
        association=association_matrix(_matrix_codes(codes, related, target)),
    )


def explore(
    frame: pd.DataFrame,
    *,
    target: str,
    task: str,
    title: str,
    seed: int = 0,
    cleaning: Mapping[str, Any] | None = None,
    app_link: str | None = APP_LINK,
    seconds: float | None = None,
) -> EdaResult:
    """Profile a cleaned frame: HTML report and PNG plots, data-quality alerts, leakage suspects and a summary.

    ``cleaning`` is the cleaning report as a dict (``CleaningReport.to_dict()``); the report lists its decisions.
    ``app_link`` is where the report's "back to the app" links point, relative to the report (None: no links).
    The work is bounded by rows (a sample of SAMPLE_ROWS) and columns (MAX_COLUMN_PLOTS, MATRIX_COLUMNS); with
    ``seconds`` also by time: once they are spent, the remaining plots are left out (the summary lists them). The
    statistics, alerts and leak checks always run.
    """
    clock = _Clock(seconds)
    _validate(frame, target, task)
    a = _analyse(frame, target, task, seed)
    correlated = _correlated_pairs(a.pearson, a.association, a.kinds, target)
    alerts = collect_alerts(frame, a.stats, a.facts, correlated, target=target, task=task)
    leakage, singles = find_leakage(a.sample, a.kinds, target=target, task=task, seed=seed)
    found = _figures(a, clock)
    pngs, paths, extra = _pngs(a, clock)
    lines = cleaning_lines(cleaning) if cleaning else []
    summary = _summary(a, singles, title=title) | {
        "cleaning": [{"decision": d, "detail": t} for d, t in lines],
        "alerts": len(alerts),
        "plots_left_out": [name for name in a.kinds if name not in paths],
        "leakage_suspects": [{"columns": list(s.columns), "evidence": s.evidence, "score": s.score} for s in leakage],
    }
    parts = ReportParts(
        title=title,
        target=target,
        task=task,
        summary=summary,
        alerts=alerts,
        leakage=leakage,
        leakage_scope=_leakage_scope(task, a.kinds, a.sample, target),
        measure=a.measure,
        figures=found,
        column_plots=paths,
        extra_plots=extra,
        pngs=pngs,
        missing_patterns=_missing_patterns(a.sample),
        cleaning=cleaning_tables(cleaning) if cleaning else [],
        app_link=app_link,
    )
    files = {"report.html": render_report(parts).encode("utf-8"), **pngs}
    return EdaResult(files=files, alerts=alerts, leakage=leakage, summary=json_safe(summary))


def _summary(a: _Analysis, singles: dict[str, float], *, title: str) -> dict[str, Any]:
    """The JSON-serialisable summary: overview counts, per-column statistics and the strongest relations."""
    summary: dict[str, Any] = {"title": title, "target": a.target, "task": a.task, **a.facts}
    summary |= {"sampled": len(a.sample) < a.facts["rows"], "sampled_rows": len(a.sample), "column_stats": a.stats}
    summary["column_types"] = {name: s["kind"] for name, s in a.stats.items()}
    summary["related_features"] = [[n, round(s, 4)] for n, s in list(a.related.items())[:10]]
    summary["single_column_scores"] = {n: round(s, 4) for n, s in sorted(singles.items(), key=lambda kv: -kv[1])}
    if a.task == "classification":
        counts = a.sample[a.target].dropna().astype(str).value_counts()
        summary["classes"] = {str(k): int(v) for k, v in counts.items()}
    return summary
