"""JSON records to typed columns without pandas, exactly as the schema's strict coercion types them.

The compiled path's front door for small requests: building and coercing a one-row DataFrame costs about two
milliseconds, the models' compiled scorers a few tens of microseconds. Only unambiguous values are typed here:
numbers in numeric columns, text in text columns, ISO dates (``YYYY-MM-DD``) in date columns, and missing values
(null, NaN, an absent key, a missing marker in text). Anything else (text in a numeric column, infinities, booleans,
numbers in a text column, times of day, nested values, a column absent from every record) makes ``coerce_records``
return None, and the request takes the pandas path, which types it as before or names the row and column of the
problem. ``tests/serving/test_fast_records.py`` checks both paths agree value for value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from adaptml.schema import ColumnSpec, Schema
from adaptml.serving.compiled.columns import Columns
from adaptml.serving.json_input import encodable

__all__ = ["MAX_FAST_RECORDS", "FastRecords", "coerce_records"]

MAX_FAST_RECORDS = 1_000  # beyond this, pandas' vectorised coercion is as fast as a Python loop
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
INT64_LIMIT = 2**63  # larger integers make pandas build an object column, typed through text
DATE_YEARS = (1678, 2261)  # whole years inside datetime64[ns]


class _Unknown(Exception):
    """A value this module does not type: the pandas path decides."""


@dataclass(frozen=True)
class FastRecords:
    """Typed columns (float64 numbers, object text with NaN, datetime64[ns] dates) and the unknown extra keys."""

    columns: Columns
    extras: tuple[str, ...]
    rows: int


def _number(value: Any) -> float:
    if type(value) is float:  # noqa: E721 - bool and numpy scalars are not JSON's numbers
        if math.isinf(value):
            raise _Unknown  # the pandas path names the row and column of an infinity
        return value
    if type(value) is int and -INT64_LIMIT < value < INT64_LIMIT:  # noqa: E721
        return float(value)
    if value is None:
        return math.nan
    raise _Unknown


def _text(value: Any, markers: frozenset[str]) -> Any:
    if value is None or (type(value) is float and value != value):  # noqa: E721
        return math.nan
    if type(value) is not str or not (value.isascii() or encodable(value)):
        raise _Unknown  # numbers in a text column are spelled by pandas' dtype; lone surrogates are refused there
    text = value.strip()
    return math.nan if text.lower() in markers else text


def _date(value: Any, markers: frozenset[str]) -> np.datetime64:
    text = _text(value, markers)
    if not isinstance(text, str):
        return np.datetime64("NaT", "ns")
    if not ISO_DATE.fullmatch(text) or not DATE_YEARS[0] <= int(text[:4]) <= DATE_YEARS[1]:
        raise _Unknown
    try:
        return np.datetime64(text, "ns")
    except ValueError as error:  # 2021-02-30: the pandas path names it
        raise _Unknown from error


def _column(spec: ColumnSpec, values: list[Any]) -> np.ndarray:
    if spec.kind == "numeric":
        return np.array([_number(v) for v in values], dtype="float64")
    markers = spec.markers()
    if spec.kind == "datetime":
        return np.array([_date(v, markers) for v in values], dtype="datetime64[ns]")
    out = np.empty(len(values), dtype=object)
    out[:] = [_text(v, markers) for v in values]
    return out


def coerce_records(
    schema: Schema, records: Sequence[Mapping[str, Any]], *, optional: Collection[str] = ()
) -> FastRecords | None:
    """The records' typed columns as ``schema.coerce(..., strict=True)`` makes them, or None when unsure.

    A column named in ``optional`` (no model uses it) may be absent from every record: it is typed as missing."""
    if not records or len(records) > MAX_FAST_RECORDS:
        return None
    names = [name for name in schema.names if name not in optional]
    if any(all(name not in record for record in records) for name in names):
        return None  # a column absent from every record: the pandas path explains which
    try:
        columns = {spec.name: _column(spec, [record.get(spec.name) for record in records]) for spec in schema.columns}
    except _Unknown:
        return None
    keys = dict.fromkeys(key for record in records for key in record)
    if not all(type(key) is str and (key.isascii() or encodable(key)) for key in keys):  # noqa: E721
        return None
    return FastRecords(columns, tuple(schema.extra_columns(keys)), len(records))
