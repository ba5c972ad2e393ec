"""CSV bytes a spreadsheet can open safely: text cells (and headers) that a spreadsheet would run as a formula are
prefixed with a quote, at the start and after every line break; numbers are left as numbers. Big tables are
written by pyarrow."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

__all__ = ["ARROW_CSV_ROWS", "FORMULA_AT_LINE_START", "FORMULA_PREFIXES", "arrow_column", "safe_cell", "to_safe_csv"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# every line break str.splitlines knows (CSV readers split rows on several of them), then the start of each line
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
FORMULA_AT_LINE_START = re.compile(f"(?:^|(?<=[{LINE_BREAKS}]))(?=[=+\\-@\t\r])")
ARROW_CSV_ROWS = 20_000  # from this many rows the CSV is written by pyarrow (about 10x faster than pandas)


def safe_cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would evaluate (``=cmd|...``, ``@SUM(...)``) by prefixing a quote, at the start
    and after every line break: pandas leaves a bare ``\r`` unquoted and spreadsheets start a new row at it."""
    if isinstance(value, str) and FORMULA_AT_LINE_START.search(value):
        return FORMULA_AT_LINE_START.sub("'", value)
    return value


def _safe_column(column: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return column
    try:
        risky = column.str.contains(FORMULA_AT_LINE_START, na=False).astype(bool)
    except AttributeError:  # an object column without any text (the .str accessor refuses it)
        return column
    if not risky.any():
        return column
    fixed = column[risky].astype(str).str.replace(FORMULA_AT_LINE_START, "'", regex=True)
    return column.astype(object).where(~risky, fixed)


def to_safe_csv(frame: pd.DataFrame, *, arrow: bool | None = None, header: bool = True) -> bytes:
    """CSV bytes with formula-like text cells (and headers) neutralised; numbers are left as numbers.

    ``arrow`` forces the writer (pyarrow from ``ARROW_CSV_ROWS`` rows by default): the chunks of one streamed file
    must all be written alike. ``header=False`` leaves the header row out (every chunk but the first).
    """
    safe = frame.rename(columns=lambda name: safe_cell(str(name)))
    safe = pd.DataFrame({name: _safe_column(safe[name]) for name in safe.columns}, index=safe.index)
    if arrow if arrow is not None else len(safe) >= ARROW_CSV_ROWS:
        return _arrow_csv(safe, header=header)
    return safe.to_csv(index=False, header=header).encode("utf-8")


def arrow_column(column: pd.Series) -> Any:
    """Numbers as they are; anything else as the text pandas would write (missing left empty)."""
    import pyarrow as pa

    if pd.api.types.is_float_dtype(column) or pd.api.types.is_integer_dtype(column):
        return pa.array(column.to_numpy(), from_pandas=True)
    if pd.api.types.is_string_dtype(column):  # text and missing values only: converted in C
        return pa.array(column.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    text = [None if _missing(value) else str(value) for value in column.to_numpy(dtype=object)]
    return pa.array(text, type=pa.string())


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _arrow_csv(frame: pd.DataFrame, *, header: bool = True) -> bytes:
    """The same table written by pyarrow: the same cells, though numbers are written shortest ("1" for 1.0)
    and text is quoted."""
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    table = pa.Table.from_arrays([arrow_column(frame[name]) for name in frame.columns], names=list(frame.columns))
    sink = pa.BufferOutputStream()
    arrow_csv.write_csv(table, sink, arrow_csv.WriteOptions(quoting_style="needed", include_header=header))
    return bytes(sink.getvalue())
