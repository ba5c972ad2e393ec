"""Request bodies to DataFrames, purely: bytes and a content type in, a frame (or checked JSON records) or an
InputError out.

Accepted: JSON records (``json_input.py``: one object, a list, ``{"records": [...]}``, MLflow's
``dataframe_split``, ``dataframe_records``, ``instances`` and ``inputs`` shapes), and CSV text (a body or a file):
UTF-8 (with or without a BOM), UTF-16 with a BOM, else Windows-1252/Latin-1; comma-separated, or ';', tab or '|'
when the header has no comma. Repeated column names, rows longer than the header, JSON nested too deeply and records
whose keys barely overlap are refused before they cost memory. Rows are numbered from 1 in every message; raw values
are never echoed beyond a short quoted excerpt.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Mapping, Sequence

import pandas as pd

from adaptml.errors import InputError, UnsupportedMediaType
from adaptml.serving.arrow_csv import ARROW_CSV_BYTES, read_arrow_csv
from adaptml.serving.json_input import (
    Records,
    check_rows,
    check_unique_columns,
    parse_json,
    parse_json_input,
    records_frame,
)

__all__ = [
    "CSV",
    "CSV_TYPES",
    "JSON",
    "JSON_TYPES",
    "MULTIPART",
    "Records",
    "check_rows",
    "check_unique_columns",
    "media_type",
    "parse_body",
    "parse_body_input",
    "parse_csv",
    "parse_form",
    "parse_json",
    "parse_json_input",
    "records_frame",
]

JSON = "application/json"
CSV = "text/csv"
MULTIPART = "multipart/form-data"
JSON_TYPES = frozenset({JSON, "application/*+json", "text/json"})
CSV_TYPES = frozenset({CSV, "application/csv", "text/plain"})
ALTERNATIVE_DELIMITERS = (";", "\t", "|")
HEADER_SCAN = 1 << 20  # the header is looked for in the first MiB of text
FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def media_type(content_type: str | None) -> str:
    """``"text/csv; charset=utf-8"`` -> ``"text/csv"``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_body(body: bytes, content_type: str | None, *, max_rows: int) -> pd.DataFrame:
    """A JSON or CSV request body as a frame; other media types are a 415."""
    parsed = parse_body_input(body, content_type, max_rows=max_rows)
    return parsed.frame() if isinstance(parsed, Records) else parsed


def parse_body_input(body: bytes, content_type: str | None, *, max_rows: int) -> Records | pd.DataFrame:
    """A JSON body as checked records (typed without pandas when they allow), a CSV body as a frame."""
    kind = media_type(content_type)
    if not body.strip():
        raise InputError('empty request body: send a JSON object, {"records": [...]}, or CSV text')
    if kind in JSON_TYPES or kind.endswith("+json"):
        return parse_json_input(body, max_rows=max_rows)
    if kind in CSV_TYPES:
        return parse_csv(body, max_rows=max_rows, source="the CSV body")
    shown = kind or "none"
    raise UnsupportedMediaType(
        f"unsupported content type '{shown[:60]}': use application/json, text/csv or a multipart file upload"
    )


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
    """CSV text as a frame, typed the way training read its dataset; at most ``max_rows`` rows are parsed.

    Files of ``ARROW_CSV_BYTES`` or more are read by pyarrow's multithreaded reader (typed as pandas would type
    them, see ``arrow_csv.py``); anything it cannot read exactly that way is read by pandas, whose messages name
    what is wrong.
    """
    if not data.strip():
        raise InputError(f"{source} is empty")
    text = _decode(data, source)
    sep = _delimiter(text)
    check_unique_columns(_header(text, sep), source)
    frame = read_arrow_csv(data, text, sep) if len(data) >= ARROW_CSV_BYTES else None
    if frame is None:
        frame = _read_pandas(text, sep, max_rows, source)
    check_rows(len(frame), max_rows)
    if frame.empty:
        raise InputError(f"{source} has a header but no data rows")
    return frame


def _read_pandas(text: str, sep: str, max_rows: int, source: str) -> pd.DataFrame:
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
    return frame


def parse_form(fields: Mapping[str, str], names: Sequence[str]) -> pd.DataFrame:
    """The single-record HTML form as a one-row frame of strings ("" is a missing value)."""
    return pd.DataFrame([{name: fields.get(name, "") for name in names}])
