"""Every bad cell of an input, not only the first: a user fixes a whole file in one round.

When strict coercion refuses a batch, ``cell_problems`` looks at each column again and lists every cell that cannot
be read (text in a number column, an impossible or out-of-range date, an infinite number), in row order, up to
``MAX_PROBLEMS``, with the total count. ``bad_cells_error`` turns the list into the 400 the API and the pages show
(``errors.BadCells``: the message names the first few, ``problems`` lists them all up to the cap). Rows are numbered
from 1, the header not counted. Pure: nothing here changes its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from adaptml.errors import BadCells, InputError
from adaptml.schema import ColumnSpec, Schema, coerce_column

__all__ = ["MAX_PROBLEMS", "CellProblem", "bad_cells", "bad_cells_error", "cell_problems", "excerpt", "has_infinite"]

MAX_PROBLEMS = 50  # listed per response; the rest are only counted
SHOWN_IN_MESSAGE = 5
EXCERPT_CHARS = 40
DATE_RANGE = f"a date between {pd.Timestamp.min.date()} and {pd.Timestamp.max.date()}"
OUTSIDE_DATES = f"the date is outside the supported range {pd.Timestamp.min.date()} to {pd.Timestamp.max.date()}"


@dataclass(frozen=True)
class CellProblem:
    """One cell that cannot be used: its row (from 1), column, a short excerpt of the value, and what was expected.

    ``value`` is None when the value cannot be echoed (nested JSON, invalid text); ``got`` then says what it was,
    or ``reason`` says it all.
    """

    row: int
    column: str
    value: str | None
    expected: str
    got: str = ""
    reason: str = ""

    @property
    def sentence(self) -> str:
        if self.reason:
            return f"row {self.row}, column '{self.column}': {self.reason}"
        got = repr(self.value) if self.value is not None else self.got
        return f"row {self.row}, column '{self.column}': expected {self.expected}, got {got}"

    def to_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "value": self.value, "expected": self.expected}


def excerpt(value: object) -> str:
    """A value as shown back to its sender: at most ``EXCERPT_CHARS`` characters."""
    text = str(value).strip()
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 3] + "..."


def bad_cells_error(problems: Sequence[CellProblem], total: int) -> BadCells:
    """The 400 for a batch with bad cells: one of them reads as it always did; several are listed and counted."""
    first = problems[0]
    if total == 1:
        message = first.sentence
    else:
        shown = "; ".join(problem.sentence for problem in problems[:SHOWN_IN_MESSAGE])
        more = f"; and {total - SHOWN_IN_MESSAGE:,} more" if total > SHOWN_IN_MESSAGE else ""
        message = f"{total:,} cells cannot be read (rows counted from 1, the header not counted): {shown}{more}"
    return BadCells(
        message,
        problems=[problem.to_dict() for problem in problems],
        total=total,
        details={"row": first.row, "column": first.column},
    )


def bad_cells(schema: Schema, frame: pd.DataFrame, error: Exception | None, row_offset: int = 1) -> InputError:
    """Every bad cell of the batch (up to the cap) as one 400; else the original error, or a generic 400."""
    problems, total = cell_problems(schema, frame, row_offset=row_offset)
    if total:
        return bad_cells_error(problems, total)
    if isinstance(error, InputError):
        return error
    reason = f"{type(error).__name__}: {str(error).strip()[:160]}" if error is not None else "an infinite number"
    return InputError(f"the input could not be read ({reason})")


def _present(series: pd.Series, markers: frozenset[str]) -> np.ndarray:
    """Which cells hold a value (not a missing marker of this column): only those can be bad."""
    values, known = series.to_numpy(dtype=object), series.notna().to_numpy()
    return np.fromiter(
        (keep and str(value).strip().lower() not in markers for value, keep in zip(values, known, strict=True)),
        dtype=bool,
        count=len(values),
    )


def _date_problem(value: object) -> str | None:
    try:
        stamp = pd.to_datetime(str(value).strip(), format="mixed")
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        return DATE_RANGE
    except (ValueError, TypeError):
        return "a date"
    if pd.isna(stamp):
        return "a date"
    return DATE_RANGE if not pd.Timestamp.min <= stamp <= pd.Timestamp.max else None


def _dates(series: pd.Series, spec: ColumnSpec, present: np.ndarray) -> list[tuple[np.ndarray, str]]:
    try:
        parsed = coerce_column(series, spec, strict=False)
        return [(present & parsed.isna().to_numpy(), "a date")]
    except (ValueError, TypeError, OverflowError):  # a date outside pandas' range: each distinct value decides
        codes, uniques = pd.factorize(pd.Series(series.to_numpy(dtype=object)[present], dtype=object))
        verdicts = np.array([_date_problem(value) or "" for value in uniques], dtype=object)
        found = np.full(len(series), "", dtype=object)
        found[present] = verdicts[codes] if len(codes) else found[present]
        return [(found == expected, expected) for expected in ("a date", DATE_RANGE)]


def _column_problems(series: pd.Series, spec: ColumnSpec) -> list[tuple[np.ndarray, str]]:
    """Masks of the column's bad cells, each with what was expected there."""
    if spec.kind == "categorical":
        return []
    if spec.kind == "numeric" and pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return [(np.isinf(series.to_numpy(dtype="float64", na_value=np.nan)), "a finite number")]
    present = _present(series, spec.markers())
    if spec.kind == "datetime":
        return _dates(series, spec, present)
    parsed = coerce_column(series, spec, strict=False).to_numpy(dtype="float64")
    return [(present & np.isnan(parsed), "a number"), (np.isinf(parsed), "a finite number")]


def cell_problems(
    schema: Schema, frame: pd.DataFrame, *, row_offset: int = 1, limit: int = MAX_PROBLEMS
) -> tuple[list[CellProblem], int]:
    """The first ``limit`` bad cells of the raw frame by row (then column order), and how many there are in all."""
    found: list[tuple[int, int, CellProblem]] = []
    total = 0
    for order, spec in enumerate(schema.columns):
        if spec.name not in frame.columns:
            continue
        series = frame[spec.name]
        for mask, expected in _column_problems(series, spec):
            positions = np.flatnonzero(mask)
            total += len(positions)
            for position in positions[:limit].tolist():
                reason = OUTSIDE_DATES if expected == DATE_RANGE else ""
                value = excerpt(series.iloc[position])
                problem = CellProblem(position + row_offset, spec.name, value, expected, reason=reason)
                found.append((position, order, problem))
    found.sort(key=lambda item: (item[0], item[1]))
    return [problem for _, _, problem in found[:limit]], total


def has_infinite(schema: Schema, typed: pd.DataFrame) -> bool:
    """Whether a typed numeric column holds an infinity (no model can use one)."""
    numeric = [spec.name for spec in schema.columns if spec.kind == "numeric" and spec.name in typed.columns]
    return bool(numeric) and bool(np.isinf(typed[numeric].to_numpy(dtype="float64", na_value=np.nan)).any())
