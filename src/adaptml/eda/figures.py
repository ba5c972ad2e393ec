"""Interactive plotly figures for the report; every trace carries summaries, not raw rows, to keep the HTML small."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from adaptml.eda.profile import CATEGORICAL, DATETIME, as_numbers

__all__ = ["heatmap", "missing_bar", "ranking_bar", "target_figure", "target_vs_feature"]

COLOR = "#3b6ea8"
TOP = 12
SCATTER_POINTS = 2000


def _layout(figure: go.Figure, title: str, *, height: int = 380, **extra: object) -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0, "font": {"size": 14}},
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        **extra,
    )
    return figure


def _top_labels(series: pd.Series, limit: int = TOP) -> pd.Series:
    """Text labels with rare values folded into "(other)" and missing ones named, for grouping."""
    text = series.astype("object").where(series.notna(), "(missing)").astype(str)
    top = set(text.value_counts().index[:limit])
    return text.where(text.isin(top), "(other)")


def _quantile_bins(values: np.ndarray, kind: str, bins: int) -> pd.Series:
    """Interval labels for numbers or dates cut at their quantiles, or the values themselves when they are few."""
    present = values[~np.isnan(values)]
    if 0 < np.unique(present).size <= bins:
        shown = [str(pd.Timestamp(v * 1e9).date()) if kind == DATETIME else f"{v:g}" for v in values]
        return pd.Series(np.where(np.isnan(values), "(missing)", shown), dtype="object")
    edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1))) if present.size else np.array([0.0])
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(len(edges) - 2, 0))

    def show(v: float) -> str:
        return str(pd.Timestamp(v * 1e9).date()) if kind == DATETIME else f"{v:.4g}"

    labels = [f"{show(edges[i])} – {show(edges[min(i + 1, len(edges) - 1)])}" for i in range(max(len(edges) - 1, 1))]
    named = [labels[i] for i in index]
    return pd.Series(np.where(np.isnan(values), "(missing)", named), dtype="object")


def target_figure(series: pd.Series, task: str, name: str) -> go.Figure:
    """The target's distribution: histogram for a number, bars of class counts for classes."""
    present = series.dropna()
    if task == "regression":
        counts, edges = np.histogram(present.astype("float64"), bins=40)
        centres = (edges[:-1] + edges[1:]) / 2
        trace = go.Bar(x=centres, y=counts, width=np.diff(edges), marker_color=COLOR, name=name)
    else:
        classes = present.astype(str).value_counts()
        shares = [f"{100 * c / classes.sum():.1f}%" for c in classes]
        trace = go.Bar(x=list(classes.index), y=classes.to_numpy(), text=shares, marker_color=COLOR, name=name)
    return _layout(go.Figure(trace), f"Distribution of the target {name}", xaxis_title=name, yaxis_title="rows")


def ranking_bar(scores: dict[str, float], title: str, measure: str) -> go.Figure:
    """Horizontal bars of the highest scores, best on top."""
    top = list(scores.items())[:15][::-1]
    trace = go.Bar(x=[s for _, s in top], y=[n for n, _ in top], orientation="h", marker_color=COLOR)
    return _layout(go.Figure(trace), title, height=120 + 24 * len(top), xaxis_title=measure, xaxis_range=[0, 1])


def _regression_vs(frame: pd.DataFrame, feature: str, kind: str, target: str) -> list[go.BaseTraceType]:
    y = frame[target].astype("float64")
    if kind == CATEGORICAL:
        groups = y.groupby(_top_labels(frame[feature]).to_numpy())
        q = groups.quantile(np.array([0.05, 0.25, 0.5, 0.75, 0.95])).unstack()
        order = groups.size().sort_values(ascending=False).index
        q = q.loc[order]
        return [
            go.Box(
                x=list(q.index),
                q1=q[0.25],
                median=q[0.5],
                q3=q[0.75],
                lowerfence=q[0.05],
                upperfence=q[0.95],
                marker_color=COLOR,
                name=target,
            )
        ]
    shown = frame.sample(n=min(SCATTER_POINTS, len(frame)), random_state=0)
    x = pd.to_datetime(shown[feature]) if kind == DATETIME else shown[feature]
    scatter = go.Scatter(
        x=x, y=shown[target], mode="markers", marker={"size": 4, "opacity": 0.35, "color": COLOR}, name="rows"
    )
    bins = _quantile_bins(as_numbers(frame[feature], kind), kind, 16)
    means = y.groupby(bins.to_numpy()).mean().drop("(missing)", errors="ignore")
    centres = pd.Series(as_numbers(frame[feature], kind)).groupby(bins.to_numpy()).median().loc[means.index]
    ranked = np.argsort(centres.to_numpy())
    xs = centres.to_numpy()[ranked]
    line_x: Any = pd.to_datetime(xs * 1e9) if kind == DATETIME else xs
    line = go.Scatter(
        x=line_x, y=means.to_numpy()[ranked], mode="lines+markers", line={"color": "#c0504d"}, name="mean per bin"
    )
    return [scatter, line]


def _classification_vs(frame: pd.DataFrame, feature: str, kind: str, target: str) -> list[go.BaseTraceType]:
    if kind == CATEGORICAL:
        groups = _top_labels(frame[feature])
    else:
        groups = _quantile_bins(as_numbers(frame[feature], kind), kind, 10)
    classes = _top_labels(frame[target], 8)
    table = pd.crosstab(groups.to_numpy(), classes.to_numpy())
    if kind == CATEGORICAL:
        table = table.loc[table.sum(axis=1).sort_values(ascending=False).index]
    else:
        table = table.loc[sorted(table.index, key=lambda label: (label == "(missing)", _bin_start(label)))]
    shares = 100 * table.div(table.sum(axis=1), axis=0)
    return [
        go.Bar(
            x=list(shares.index),
            y=shares[label],
            name=str(label),
            customdata=table[label],
            hovertemplate="%{x}: %{y:.1f}% (%{customdata:,} rows)",
        )
        for label in shares.columns
    ]


def _bin_start(label: str) -> float | str:
    head = label.split(" – ")[0]
    try:
        return float(head)
    except ValueError:
        return head


def target_vs_feature(frame: pd.DataFrame, feature: str, kind: str, *, target: str, task: str) -> go.Figure:
    """The target against one feature: scatter with binned means or boxes (regression), class shares (classes)."""
    if task == "regression":
        traces = _regression_vs(frame, feature, kind, target)
        return _layout(go.Figure(traces), f"{target} by {feature}", xaxis_title=feature, yaxis_title=target)
    traces = _classification_vs(frame, feature, kind, target)
    return _layout(
        go.Figure(traces),
        f"Share of each {target} class by {feature}",
        barmode="stack",
        xaxis_title=feature,
        yaxis_title="% of rows",
        legend_title=target,
    )


def heatmap(matrix: pd.DataFrame, title: str, *, zmin: float) -> go.Figure:
    """A square heatmap with values in the hover text."""
    labels = [str(c) for c in matrix.columns]
    trace = go.Heatmap(
        z=matrix.round(3).to_numpy(),
        x=labels,
        y=labels,
        zmin=zmin,
        zmax=1,
        colorscale="RdBu_r" if zmin < 0 else "Blues",
    )
    size = max(420, min(900, 200 + 22 * len(labels)))
    return _layout(go.Figure(trace), title, height=size, yaxis_autorange="reversed")


def missing_bar(missing_pct: dict[str, float]) -> go.Figure:
    """Percent missing per column, only for the columns with any."""
    items = sorted(((n, p) for n, p in missing_pct.items() if p > 0), key=lambda item: item[1])
    trace = go.Bar(x=[p for _, p in items], y=[n for n, _ in items], orientation="h", marker_color="#c0504d")
    return _layout(
        go.Figure(trace),
        "Missing values per column",
        height=120 + 24 * len(items),
        xaxis_title="% missing",
        xaxis_range=[0, 100],
    )
