"""The stateless head of a pipeline over plain arrays: the typed frame as columns, date parts, column selection.

Columns are a dict of numpy arrays (float64 numbers, object strings with NaN for missing, datetime64[ns] dates),
exactly the values the pickled pipeline's steps see in their DataFrames.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from adaptml.training.features import DATE_PARTS, EPOCH, ColumnSelector, DateParts, DerivedFeatures

__all__ = ["Columns", "CompileRefused", "columns_frame", "compile_head_step", "date_parts", "frame_columns"]

Columns = dict[str, np.ndarray]
NANOSECONDS_PER_DAY = 86_400 * 10**9


class CompileRefused(Exception):
    """A step the compiler does not know (or cannot reproduce exactly): no fast path for that model."""


def frame_columns(frame: pd.DataFrame) -> Columns:
    """The typed frame's columns as numpy arrays (no copy where pandas can avoid one).

    Reading the block manager skips building a Series per column (about 10 us each, most of a one-row request's
    compiled work); the public route is the fallback.
    """
    manager = getattr(frame, "_mgr", None)
    if manager is not None and hasattr(manager, "iget_values") and frame.columns.is_unique:
        try:
            return {str(name): np.asarray(manager.iget_values(i)) for i, name in enumerate(frame.columns)}
        except Exception:  # noqa: BLE001 - a pandas without this internal: the public way below
            pass
    return {str(name): frame[name].to_numpy() for name in frame.columns}


def columns_frame(columns: Columns | pd.DataFrame) -> pd.DataFrame:
    """The typed frame again from its columns (as ``PreparedInput.typed`` builds it), for a step or model that
    only runs on a DataFrame."""
    if isinstance(columns, pd.DataFrame):
        return columns
    return pd.DataFrame({name: pd.Series(values, dtype=values.dtype) for name, values in columns.items()})


def date_parts(values: np.ndarray) -> dict[str, np.ndarray]:
    """``DateParts``' numbers for one datetime column, in numpy: year, month, ISO week, day, day of week (Monday 0),
    day of year and days since the epoch, as float64 with NaN where the date is missing."""
    stamps = np.asarray(values).astype("datetime64[ns]")
    missing = np.isnat(stamps)
    days = stamps.astype("datetime64[D]")
    day_number = days.astype("int64")  # days since 1970-01-01, a Thursday
    year_start = days.astype("datetime64[Y]")
    month_start = days.astype("datetime64[M]")
    weekday = (day_number + 3) % 7
    thursday = (day_number - weekday + 3).astype("datetime64[D]")  # ISO weeks belong to their Thursday's year
    thursday_year = thursday.astype("datetime64[Y]").astype("datetime64[D]")
    parts = {
        "year": year_start.astype("int64") + 1970,
        "month": month_start.astype("int64") % 12 + 1,
        "week": (thursday - thursday_year).astype("int64") // 7 + 1,
        "day": (days - month_start.astype("datetime64[D]")).astype("int64") + 1,
        "day_of_week": weekday,
        "day_of_year": (days - year_start.astype("datetime64[D]")).astype("int64") + 1,
        "days": (stamps.astype("int64") - EPOCH.value) / NANOSECONDS_PER_DAY,
    }
    out = {}
    for part in DATE_PARTS:
        number = parts[part].astype("float64")
        number[missing] = np.nan
        out[part] = number
    return out


def _dates(step: DateParts) -> Callable[[Columns], Columns]:
    names = tuple(step.columns)

    def run(columns: Columns) -> Columns:
        out = {name: values for name, values in columns.items() if name not in names}
        for name in names:
            out.update({f"{name}_{part}": values for part, values in date_parts(columns[name]).items()})
        return out

    return run


def _select(step: ColumnSelector) -> Callable[[Columns], Columns]:
    names = tuple(step.columns)
    return lambda columns: {name: columns[name] for name in names}


def _derived(step: DerivedFeatures) -> Callable[[Columns], Columns]:
    """The fitted step itself on the typed frame (times of day, dates in text, text features are pandas and
    fitted state): the same object on the same values, so the same numbers; what follows stays on arrays."""
    return lambda columns: frame_columns(step.transform(columns_frame(columns)))


def compile_head_step(step: Any) -> Callable[[Columns], Columns]:
    """The array version of a head step (exact types only: a subclass may behave differently)."""
    if type(step) is DateParts:
        return _dates(step)
    if type(step) is DerivedFeatures:
        return _derived(step)
    if type(step) is ColumnSelector:
        return _select(step)
    raise CompileRefused(f"unknown step {type(step).__name__}")
