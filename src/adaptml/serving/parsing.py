"""Request bodies to DataFrames, purely: bytes and a content type in, a frame or an InputError out.

Accepted: one JSON object (one record), a JSON list of objects, ``{"records": [...]}``, MLflow's
``dataframe_split``, ``dataframe_records``, ``instances`` and ``inputs`` shapes, and CSV text (a body or a file):
UTF-8 (with or without a BOM), UTF-16 with a BOM, else Windows-1252/Latin-1; comma-separated, or ';', tab or '|'
when the header has no comma. Repeated column names, rows longer than the header, JSON nested too deeply and records
whose keys barely overlap are refused before they cost memory. Rows are numbered from 1 in every message; raw values
are never echoed beyond a short quoted excerpt.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from adaptml.errors import InputError, PayloadTooLarge, UnsupportedMediaType

__all__ = [
    "CSV",
    "CSV_TYPES",
    "JSON",
    "JSON_TYPES",
    "MULTIPART",
    "check_rows",
    "check_unique_columns",
    "media_type",
    "parse_body",
    "parse_csv",
    "parse_form",
    "parse_json",
    "records_frame",
]

JSON = "application/json"
CSV = "text/csv"
MULTIPART = "multipart/form-data"
JSON_TYPES = frozenset({JSON, "application/*+json", "text/json"})
CSV_TYPES = frozenset({CSV, "application/csv", "text/plain"})
RECORD_KEYS = ("records", "dataframe_records", "instances", "inputs")
ALTERNATIVE_DELIMITERS = (";", "\t", "|")
SPARSE_FACTOR, MAX_SPARSE_CELLS = 4, 1_000_000  # records x distinct keys allowed beyond the values sent
HEADER_SCAN = 1 << 20  # the header is looked for in the first MiB of text
FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def media_type(content_type: str | None) -> str:
    """``"text/csv; charset=utf-8"`` -> ``"text/csv"``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_rows(count: int, max_rows: int) -> None:
    if count > max_rows:
        raise PayloadTooLarge(
            f"too many rows: more than {max_rows:,} records in one request (the serving.max_rows limit)",
            details={"limit": max_rows},
        )


def parse_body(body: bytes, content_type: str | None, *, max_rows: int) -> pd.DataFrame:
    """A JSON or CSV request body as a frame; other media types are a 415."""
    kind = media_type(content_type)
    if not body.strip():
        raise InputError('empty request body: send a JSON object, {"records": [...]}, or CSV text')
    if kind in JSON_TYPES or kind.endswith("+json"):
        return parse_json(body, max_rows=max_rows)
    if kind in CSV_TYPES:
        return parse_csv(body, max_rows=max_rows, source="the CSV body")
    shown = kind or "none"
    raise UnsupportedMediaType(
        f"unsupported content type '{shown[:60]}': use application/json, text/csv or a multipart file upload"
    )


def parse_json(body: bytes, *, max_rows: int) -> pd.DataFrame:
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
    return records_frame(payload, max_rows=max_rows)


def records_frame(payload: Any, *, max_rows: int) -> pd.DataFrame:
    """Any supported JSON shape as a frame, one row per record."""
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


def _from_records(records: Sequence[Any], *, max_rows: int) -> pd.DataFrame:
    check_rows(len(records), max_rows)
    if not records:
        raise InputError("no records to predict: the list is empty")
    for number, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise InputError(f"row {number}: expected a JSON object, got {_json_kind(record)}", details={"row": number})
    _check_dense(records)
    rows = list(records)
    return _scalars_only(_build(lambda: pd.DataFrame.from_records(rows), lambda: rows))


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
        for number, record in enumerate(records(), start=1):
            for name, value in record.items():
                if not _encodable(str(name)):
                    raise InputError(
                        "a column name is not valid Unicode (it contains a lone surrogate escape)"
                    ) from error
                if (problem := _bad_cell(value)) is not None:
                    raise InputError(
                        f"row {number}, column '{name}': {problem}", details={"row": number, "column": str(name)}
                    ) from error
        raise InputError("the input contains text that is not valid Unicode") from error


def _bad_cell(value: Any) -> str | None:
    """Why a JSON value cannot be a cell: nested, or text that is not valid Unicode (a lone surrogate)."""
    if isinstance(value, dict | list):
        return f"expected a single value, got {_json_kind(value)}"
    if isinstance(value, str) and not value.isascii() and not _encodable(value):
        return "the text is not valid Unicode (it contains a lone surrogate escape)"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _scalars_only(frame: pd.DataFrame) -> pd.DataFrame:
    """Reject nested objects, arrays and invalid text as cells, naming the first one's row and column."""
    for name in frame.columns:
        if not _encodable(str(name)):
            raise InputError("a column name is not valid Unicode (it contains a lone surrogate escape)")
        if frame[name].dtype != object:
            continue
        problems = frame[name].map(_bad_cell)
        found = problems.notna().to_numpy()
        if found.any():
            row = int(found.argmax()) + 1
            raise InputError(
                f"row {row}, column '{name}': {problems.iloc[row - 1]}", details={"row": row, "column": str(name)}
            )
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


def _decode(data: bytes, source: str) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # spreadsheets' "Unicode text" export
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise InputError(f"{source} starts with a UTF-16 byte order mark but is not UTF-16 text") from error
    if b"\x00" in data[:8192]:
        raise UnsupportedMediaType(f"{source} is not CSV text (it looks like a binary file)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # spreadsheets still export Windows-1252; every byte decodes


def _delimiter(text: str) -> str:
    """Comma, unless the header has none and uses ';', tab or '|' (European and tab-separated exports)."""
    header = text[: text.find("\n")] if "\n" in text[:HEADER_SCAN] else text[:HEADER_SCAN]
    if "," in header:
        return ","
    counts = {sep: header.count(sep) for sep in ALTERNATIVE_DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _header(text: str, sep: str) -> list[str]:
    """The header row as written (pandas renames repeated names to 'name.1', hiding the repeat)."""
    try:
        first = next(csv.reader(io.StringIO(text[:HEADER_SCAN]), delimiter=sep), [])
    except csv.Error:  # a header the csv module cannot split: pandas reports what is wrong with it
        return []
    return [name for name in first if name]  # empty names become distinct 'Unnamed: n' columns


def _tokenizer_problem(error: Exception) -> str:
    """pandas' tokenizer message in the API's terms: data rows numbered from 1 (its lines count the header)."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if found := FIELD_COUNT.search(first):
        expected, line, saw = (int(group) for group in found.groups())
        return f"row {line - 1} has {saw} values, but the header names {expected} columns"
    if "EOF inside string" in first:
        return 'a quoted value is never closed (a " without its closing ")'
    return first[:200]


def parse_csv(data: bytes, *, max_rows: int, source: str = "the CSV file") -> pd.DataFrame:
    """CSV text as a frame, typed the way training read its dataset; at most ``max_rows`` rows are parsed."""
    if not data.strip():
        raise InputError(f"{source} is empty")
    text = _decode(data, source)
    sep = _delimiter(text)
    check_unique_columns(_header(text, sep), source)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, nrows=max_rows + 1, low_memory=False)
    except pd.errors.EmptyDataError as error:
        raise InputError(f"{source} has no columns") from error
    except (pd.errors.ParserError, ValueError) as error:
        raise InputError(f"{source} is not a readable CSV: {_tokenizer_problem(error)}") from error
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the surplus leading values as a row index
        raise InputError(
            f"{source}: row 1 has more values than the header has column names ({len(frame.columns)})",
            details={"row": 1},
        )
    check_rows(len(frame), max_rows)
    if frame.empty:
        raise InputError(f"{source} has a header but no data rows")
    return frame


def parse_form(fields: Mapping[str, str], names: Sequence[str]) -> pd.DataFrame:
    """The single-record HTML form as a one-row frame of strings ("" is a missing value)."""
    return pd.DataFrame([{name: fields.get(name, "") for name in names}])
