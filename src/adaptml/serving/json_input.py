"""JSON request bodies: records checked for shape, kept as plain dicts until something needs a DataFrame.

Accepted: one JSON object (one record), a JSON list of objects, ``{"records": [...]}``, and MLflow's
``dataframe_split``, ``dataframe_records``, ``instances`` and ``inputs`` shapes. JSON nested too deeply and records
whose keys barely overlap are refused before they cost memory. A small batch of records is typed straight from the
dicts by the compiled path (``compiled/records.py``); ``Records.frame()`` builds the frame the pandas path needs,
refusing nested values and invalid text by row and column.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from adaptml.errors import InputError, PayloadTooLarge
from adaptml.serving.cells import MAX_PROBLEMS, CellProblem, bad_cells_error

__all__ = [
    "RECORD_KEYS",
    "Records",
    "check_rows",
    "check_unique_columns",
    "encodable",
    "json_input",
    "parse_json",
    "parse_json_input",
    "records_frame",
]

RECORD_KEYS = ("records", "dataframe_records", "instances", "inputs")
SPARSE_FACTOR, MAX_SPARSE_CELLS = 4, 1_000_000  # records x distinct keys allowed beyond the values sent


def check_rows(count: int, max_rows: int) -> None:
    if count > max_rows:
        raise PayloadTooLarge(
            f"too many rows: more than {max_rows:,} records in one request (the serving.max_rows limit)",
            details={"limit": max_rows},
        )


@dataclass(frozen=True)
class Records:
    """JSON records checked for shape (a non-empty list of objects with overlapping keys), not yet a frame."""

    rows: Sequence[Mapping[str, Any]]

    def __len__(self) -> int:
        return len(self.rows)

    def frame(self) -> pd.DataFrame:
        """One row per record; nested values and text that is not valid Unicode are an InputError."""
        rows = list(self.rows)
        return _scalars_only(_build(lambda: pd.DataFrame.from_records(rows), lambda: rows))


def parse_json(body: bytes, *, max_rows: int) -> pd.DataFrame:
    """A JSON body as a frame, one row per record."""
    parsed = parse_json_input(body, max_rows=max_rows)
    return parsed.frame() if isinstance(parsed, Records) else parsed


def parse_json_input(body: bytes, *, max_rows: int) -> Records | pd.DataFrame:
    """A JSON body as checked records (or a frame, for ``dataframe_split``)."""
    if body.count(b"{") + body.count(b"[") > 2 * max_rows + 4:  # refused before json.loads builds them all:
        check_rows(max_rows + 1, max_rows)  # "[{},{},...]" costs ~60 bytes of memory per byte of body
    try:
        payload = json.loads(body)
    except UnicodeDecodeError as error:
        raise InputError("the JSON body is not UTF-8 text") from error
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from error
    except ValueError as error:  # an integer literal longer than Python's 4,300-digit conversion limit
        raise InputError("not valid JSON: a number has too many digits") from error
    except RecursionError as error:  # thousands of nested arrays or objects
        raise InputError("not valid JSON: nested too deeply (records are flat objects)") from error
    return json_input(payload, max_rows=max_rows)


def records_frame(payload: Any, *, max_rows: int) -> pd.DataFrame:
    """Any supported JSON shape as a frame, one row per record."""
    parsed = json_input(payload, max_rows=max_rows)
    return parsed.frame() if isinstance(parsed, Records) else parsed


def json_input(payload: Any, *, max_rows: int) -> Records | pd.DataFrame:
    """Any supported JSON shape as checked records (a frame for ``dataframe_split``)."""
    if isinstance(payload, list):
        return _from_records(payload, max_rows=max_rows)
    if not isinstance(payload, Mapping):
        raise InputError(f"expected a JSON object or a list of objects, got {_json_kind(payload)}")
    if "dataframe_split" in payload:
        return _from_split(payload["dataframe_split"], max_rows=max_rows)
    for key in RECORD_KEYS:
        if key in payload:
            if not isinstance(payload[key], list):
                raise InputError(f"'{key}' must be a list of objects, got {_json_kind(payload[key])}")
            return _from_records(payload[key], max_rows=max_rows)
    return _from_records([payload], max_rows=max_rows)


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _from_records(records: Sequence[Any], *, max_rows: int) -> Records:
    check_rows(len(records), max_rows)
    if not records:
        raise InputError("no records to predict: the list is empty")
    for number, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise InputError(f"row {number}: expected a JSON object, got {_json_kind(record)}", details={"row": number})
    _check_dense(records)
    return Records(records)


def _check_dense(records: Sequence[Mapping[str, Any]]) -> None:
    """Refuse records whose keys barely overlap: a frame is records x distinct keys, so 20,000 one-key records
    with different keys (300 kB of JSON) would need 400 million cells."""
    names: set[str] = set()
    pairs = 0
    for record in records:
        names.update(record)
        pairs += len(record)
    if len(records) * len(names) > max(SPARSE_FACTOR * pairs, MAX_SPARSE_CELLS):
        raise InputError(
            f"the {len(records):,} records use {len(names):,} different keys between them: "
            "send the same columns in every record"
        )


def _from_split(split: Any, *, max_rows: int) -> pd.DataFrame:
    if not isinstance(split, Mapping) or not isinstance(split.get("columns"), list):
        raise InputError('\'dataframe_split\' needs {"columns": [...], "data": [[...], ...]}')
    columns, data = [str(c) for c in split["columns"]], split.get("data")
    check_unique_columns(columns, "'dataframe_split.columns'")
    if not isinstance(data, list):
        raise InputError("'dataframe_split.data' must be a list of rows")
    check_rows(len(data), max_rows)
    if not data:
        raise InputError("no records to predict: 'dataframe_split.data' is empty")
    for number, row in enumerate(data, start=1):
        if not isinstance(row, list) or len(row) != len(columns):
            got = f"{len(row)} values" if isinstance(row, list) else _json_kind(row)
            raise InputError(f"row {number}: expected {len(columns)} values (one per column), got {got}")

    def records() -> Iterable[Mapping[str, Any]]:  # only walked when the frame cannot be built
        return (dict(zip(columns, row, strict=True)) for row in data)

    return _scalars_only(_build(lambda: pd.DataFrame(data, columns=columns), records))


def _build(make: Callable[[], pd.DataFrame], records: Callable[[], Iterable[Mapping[str, Any]]]) -> pd.DataFrame:
    """Build the frame; text pandas cannot store (lone surrogates from JSON escapes) is named by row and column."""
    try:
        return make()
    except UnicodeEncodeError as error:
        found: list[CellProblem] = []
        total = 0
        for number, record in enumerate(records(), start=1):
            for name, value in record.items():
                if not encodable(str(name)):
                    raise InputError(
                        "a column name is not valid Unicode (it contains a lone surrogate escape)"
                    ) from error
                if _bad_cell(value) is not None:
                    total += 1
                    if len(found) < MAX_PROBLEMS:
                        found.append(_problem(number, str(name), value))
        if found:
            raise bad_cells_error(found, total) from error
        raise InputError("the input contains text that is not valid Unicode") from error


def _bad_cell(value: Any) -> str | None:
    """Why a JSON value cannot be a cell: nested, or text that is not valid Unicode (a lone surrogate)."""
    if isinstance(value, dict | list):
        return f"expected a single value, got {_json_kind(value)}"
    if isinstance(value, str) and not value.isascii() and not encodable(value):
        return "the text is not valid Unicode (it contains a lone surrogate escape)"
    return None


def _problem(row: int, column: str, value: Any) -> CellProblem:
    """A nested value or invalid text as a listed cell; neither is echoed back."""
    if isinstance(value, dict | list):
        return CellProblem(row, column, None, "a single value", got=_json_kind(value))
    reason = "the text is not valid Unicode (it contains a lone surrogate escape)"
    return CellProblem(row, column, None, "valid Unicode text", reason=reason)


def encodable(text: str) -> bool:
    """Whether ``text`` is valid Unicode (JSON can carry lone surrogate escapes, which UTF-8 cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _scalars_only(frame: pd.DataFrame) -> pd.DataFrame:
    """Reject nested objects, arrays and invalid text as cells, listing each (up to the cap) by row and column."""
    found: list[tuple[int, int, CellProblem]] = []
    total = 0
    for order, name in enumerate(frame.columns):
        if not encodable(str(name)):
            raise InputError("a column name is not valid Unicode (it contains a lone surrogate escape)")
        if frame[name].dtype != object:
            continue
        problems = frame[name].map(_bad_cell)
        rows = np.flatnonzero(problems.notna().to_numpy())
        total += len(rows)
        for row in rows[:MAX_PROBLEMS].tolist():
            found.append((row, order, _problem(row + 1, str(name), frame[name].iloc[row])))
    if total:
        found.sort(key=lambda item: (item[0], item[1]))
        raise bad_cells_error([problem for _, _, problem in found[:MAX_PROBLEMS]], total)
    return frame


def check_unique_columns(columns: Sequence[str], where: str) -> None:
    """Two columns of one name make a record ambiguous: name the first repeated one."""
    seen: dict[str, int] = {}
    for number, name in enumerate(columns, start=1):
        if name in seen:
            raise InputError(
                f"{where}: column '{name[:60]}' appears twice (columns {seen[name]} and {number})",
                details={"column": name[:60]},
            )
        seen[name] = number
