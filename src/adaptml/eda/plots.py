"""Static PNG plots drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from adaptml.eda.profile import CATEGORICAL, DATETIME

__all__ = ["correlation_png", "distribution_png", "missing_matrix_png"]

COLOR = "#3b6ea8"
MISSING_COLOR = "#c0504d"
TOP_CATEGORIES = 15


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), dpi=90, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(labelsize=8)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _short(label: object, width: int = 28) -> str:
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def _bars(axes: Axes, counts: pd.Series, missing: int) -> None:
    """Horizontal bars of the most frequent values, with the rest and the missing ones as extra bars."""
    top = counts.iloc[:TOP_CATEGORIES]
    labels = [_short(v) for v in top.index]
    sizes = list(top.to_numpy())
    colors = [COLOR] * len(sizes)
    if len(counts) > TOP_CATEGORIES:
        labels.append(f"({len(counts) - TOP_CATEGORIES:,} others)")
        sizes.append(int(counts.iloc[TOP_CATEGORIES:].sum()))
        colors.append("#9aa5b1")
    if missing:
        labels.append("(missing)")
        sizes.append(missing)
        colors.append(MISSING_COLOR)
    positions = np.arange(len(sizes))[::-1]
    axes.barh(positions, sizes, color=colors)
    axes.set_yticks(positions, labels)
    axes.set_xlabel("rows", fontsize=8)


def _value_label(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    return f"{float(value):g}" if isinstance(value, int | float | np.number) else str(value)


def _value_bars(axes: Axes, present: pd.Series, missing: int) -> None:
    """Vertical bars for a number with few distinct values, in value order, plus a missing bar."""
    counts = present.value_counts().sort_index()
    labels = [_value_label(v) for v in counts.index] + (["(missing)"] if missing else [])
    sizes = list(counts.to_numpy()) + ([missing] if missing else [])
    colors = [COLOR] * len(counts) + ([MISSING_COLOR] if missing else [])
    axes.bar(range(len(sizes)), np.asarray(sizes), color=colors)
    axes.set_xticks(range(len(sizes)), labels)
    axes.set_ylabel("rows", fontsize=8)


def distribution_png(series: pd.Series, kind: str, title: str) -> bytes:
    """One column's distribution: a histogram for many numbers or dates, bars for categories and few numbers."""
    present = series.dropna()
    missing = len(series) - len(present)
    if kind == CATEGORICAL:
        figure, axes = _figure(5.4, max(1.6, 0.6 + 0.2 * min(present.nunique() + 2, 18)))
        _bars(axes, present.astype(str).value_counts(), missing)
    elif present.nunique() <= 20:
        figure, axes = _figure(5.4, 2.6)
        _value_bars(axes, present, missing)
    else:
        figure, axes = _figure(5.4, 2.6)
        axes.hist(pd.to_datetime(present) if kind == DATETIME else present.astype("float64"), bins=30, color=COLOR)
        axes.set_ylabel("rows", fontsize=8)
        if kind == DATETIME:
            figure.autofmt_xdate()
    suffix = f" — {100 * missing / len(series):.1f}% missing" if missing and len(series) else ""
    axes.set_title(f"{_short(title, 60)}{suffix}", fontsize=9, loc="left")
    return _png(figure)


def missing_matrix_png(frame: pd.DataFrame, *, rows: int = 400) -> bytes | None:
    """Which cells are missing, for the columns that have any, over evenly spaced rows; None if nothing is missing."""
    columns = [c for c in frame.columns if frame[c].isna().any()]
    if not columns:
        return None
    picked = frame[columns].iloc[np.linspace(0, len(frame) - 1, min(rows, len(frame))).astype(int)]
    figure, axes = _figure(min(max(5.0, 1.2 + 0.35 * len(columns)), 11), 3.2)
    axes.imshow(picked.isna().to_numpy(), aspect="auto", interpolation="nearest", cmap="Greys", vmin=0, vmax=1)
    axes.set_xticks(range(len(columns)), [_short(c, 20) for c in columns], rotation=60, ha="right")
    axes.set_ylabel("row (evenly spaced)", fontsize=8)
    axes.set_title("Missing cells (black)", fontsize=9, loc="left")
    return _png(figure)


def correlation_png(matrix: pd.DataFrame, title: str) -> bytes:
    """A square heatmap of a correlation or association matrix."""
    size = min(2.2 + 0.32 * len(matrix), 12)
    figure, axes = _figure(size + 1, size)
    image = axes.imshow(matrix.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    labels = [_short(c, 22) for c in matrix.columns]
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    axes.set_yticks(range(len(labels)), labels, fontsize=7)
    figure.colorbar(image, ax=axes, shrink=0.8)
    axes.set_title(title, fontsize=9, loc="left")
    return _png(figure)
