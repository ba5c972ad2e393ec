"""Honest inputs: values unlike anything training saw are still scored, but each one is named (row and column).

Three kinds, decided from the schema alone, once per request and before any model runs, so the compiled fast path,
the pickled pipelines and the Dask engine all report the same warnings:

- ``missing``: a null in a column that had no missing values in training;
- ``unseen_category``: a level outside a column's complete list of training categories;
- ``out_of_range``: a number or date below the training minimum or above the training maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from adaptml.schema import ColumnSpec, Schema
from adaptml.serving.compiled.columns import Columns

__all__ = ["MAX_WARNINGS", "InputWarning", "InputWarnings", "input_warnings"]

MAX_WARNINGS = 100  # listed per request; the rest are only counted
SMALL_ROWS = 32  # up to this many rows, categories are looked up in a set (building pandas Indexes costs more)
FEW_ROWS = 4  # up to this many rows, each value is checked on its own (``_few_warnings``)
_KNOWN: dict[int, tuple[ColumnSpec, frozenset[str], tuple[object, object]]] = {}  # by id(spec); the spec kept alive
_NONE = np.zeros(0, dtype="int64")
_KNOWN_LIMIT = 4096  # specs remembered (a few versions' columns); then the memory starts afresh

MISSING = "missing"
UNSEEN = "unseen_category"
OUT_OF_RANGE = "out_of_range"


@dataclass(frozen=True)
class InputWarning:
    """One cell unlike the training data: its row (from 1), column, kind and a sentence for people."""

    row: int
    column: str
    kind: str
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class InputWarnings:
    """The first ``MAX_WARNINGS`` warnings of a batch, in row order, and how many there were in all."""

    items: tuple[InputWarning, ...] = ()
    total: int = 0

    @property
    def omitted(self) -> int:
        return self.total - len(self.items)

    def __bool__(self) -> bool:
        return self.total > 0


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, np.datetime64 | pd.Timestamp):
        return str(pd.Timestamp(value).date())
    return str(value)


def _missing(values: np.ndarray) -> np.ndarray:
    """Where a typed column is missing: NaN numbers and NaT dates straight from numpy, anything else as pandas
    decides (None, NaN, NA, NaT in an object column)."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind in "mM":
        return np.isnat(values)
    return np.asarray(pd.isna(values), dtype=bool)


def _known(spec: ColumnSpec) -> tuple[frozenset[str], tuple[object, object]]:
    """A column's categories as a set and its typed bounds, computed once per spec (specs live as long as their
    version: the schema is loaded once, and requests reuse its ``ColumnSpec`` objects)."""
    cached = _KNOWN.get(id(spec))
    if cached is None or cached[0] is not spec:
        if len(_KNOWN) >= _KNOWN_LIMIT:
            _KNOWN.clear()
        cached = _KNOWN[id(spec)] = (spec, frozenset(spec.categories), _bounds(spec))
    return cached[1], cached[2]


def _unseen(spec: ColumnSpec, values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The rows with a present value outside the column's training categories."""
    if len(values) <= SMALL_ROWS:
        known, _ = _known(spec)
        try:
            return np.array([r for r in np.flatnonzero(present) if values[r] not in known], dtype="int64")
        except TypeError:  # an unhashable value: pandas' lookup below decides
            pass
    found = np.asarray(pd.Index(list(spec.categories), dtype=object).get_indexer(pd.Index(values, dtype=object)))
    return np.flatnonzero(present & (found < 0))


def _bounds(spec: ColumnSpec) -> tuple[object, object]:
    """The training range in the column's typed form (dates as datetime64), None where unknown."""
    if spec.kind == "datetime":
        low = pd.Timestamp(spec.min).to_datetime64() if spec.min else None
        high = pd.Timestamp(spec.max).to_datetime64() if spec.max else None
        return low, high
    return _number(spec.min), _number(spec.max)


def _number(value: float | str | None) -> float | None:
    return float(value) if value is not None and not isinstance(value, str) else None


def _beyond(values: np.ndarray, bound: object, *, below: bool) -> np.ndarray:
    """Where values are below (or above) a bound; float and date arrays compare NaN/NaT quietly, so only other
    arrays pay for silencing numpy's invalid-value warning."""
    if values.dtype.kind in "fmM":
        return values < bound if below else values > bound
    with np.errstate(invalid="ignore"):
        return values < bound if below else values > bound


def _rows(mask: np.ndarray) -> np.ndarray:
    """The rows a mask flags (checked first with ``any``: most columns of most requests flag none)."""
    return np.flatnonzero(mask) if mask.any() else _NONE


def _few_warnings(spec: ColumnSpec, values: np.ndarray) -> list[tuple[int, str, str]] | None:
    """A few rows' warnings, value by value in Python: a one-record request pays a dozen numpy calls per column on
    the array path, more than its compiled prediction's share. None where only the array path decides (a value
    pandas does not call missing or not as a scalar, an unhashable category, a comparison that raises)."""
    known, (low, high) = _known(spec)
    categorical = spec.kind == "categorical" and spec.categories and spec.n_unique <= len(spec.categories)
    ranged = spec.kind in ("numeric", "datetime")
    found: list[tuple[int, str, str]] = []
    try:
        for row, value in enumerate(values):
            absent = pd.isna(value)
            if not isinstance(absent, bool | np.bool_):
                return None
            if absent:
                if not spec.nullable:
                    found.append((row, MISSING, "missing, though training had no missing values here"))
            elif categorical and value not in known:
                found.append((row, UNSEEN, f"{_shown(value)!r} is a category training never saw"))
            elif ranged and low is not None and value < low:
                found.append((row, OUT_OF_RANGE, f"{_shown(value)} is below the training minimum {_shown(low)}"))
            elif ranged and high is not None and value > high:
                found.append((row, OUT_OF_RANGE, f"{_shown(value)} is above the training maximum {_shown(high)}"))
    except (TypeError, ValueError):
        return None
    return found


def _column_warnings(spec: ColumnSpec, values: np.ndarray, limit: int) -> tuple[list[InputWarning], int]:
    """This column's warnings (up to ``limit``) and their count."""
    few = _few_warnings(spec, values) if len(values) <= min(FEW_ROWS, limit) and values.dtype.kind in "fmMO" else None
    if few is not None:
        return [InputWarning(r + 1, spec.name, kind, f"column '{spec.name}': {text}") for r, kind, text in few], len(
            few
        )
    found: list[tuple[int, str, str]] = []
    count = 0
    absent = _missing(values)
    if not spec.nullable:
        rows = _rows(absent)
        count += len(rows)
        found += [(int(r), MISSING, "missing, though training had no missing values here") for r in rows[:limit]]
    present = ~absent
    if spec.kind == "categorical" and spec.categories and spec.n_unique <= len(spec.categories):
        rows = _unseen(spec, values, present)
        count += len(rows)
        found += [(int(r), UNSEEN, f"{_shown(values[r])!r} is a category training never saw") for r in rows[:limit]]
    elif spec.kind in ("numeric", "datetime"):
        _, (low, high) = _known(spec)
        for bound, below in ((low, True), (high, False)):
            if bound is None:
                continue
            outside = present & _beyond(values, bound, below=below)
            rows = _rows(outside)
            count += len(rows)
            side = "below the training minimum" if below else "above the training maximum"
            found += [(int(r), OUT_OF_RANGE, f"{_shown(values[r])} is {side} {_shown(bound)}") for r in rows[:limit]]
    return [InputWarning(r + 1, spec.name, kind, f"column '{spec.name}': {text}") for r, kind, text in found], count


def input_warnings(schema: Schema, columns: Columns, *, limit: int = MAX_WARNINGS) -> InputWarnings:
    """Every cell of the typed columns that training never saw the like of: the first ``limit`` (by row, then
    column order) and the total. Pure: reads the columns, never changes them."""
    items: list[InputWarning] = []
    total = 0
    for spec in schema.columns:
        values = columns.get(spec.name)
        if values is None:
            continue
        found, count = _column_warnings(spec, values, limit)
        items += found
        total += count
    order = {name: index for index, name in enumerate(schema.names)}
    items.sort(key=lambda w: (w.row, order[w.column]))
    return InputWarnings(tuple(items[:limit]), total)
