"""Big CSV files read by pyarrow's multithreaded reader, typed as pandas' ``read_csv`` types them.

pandas reads a 60 MB upload in seconds, pyarrow in a fraction of that. The frame must be what the pandas reader
gives (serving's coercion and the echoed input columns depend on it), so: pandas' missing-value spellings are
pyarrow's null values, and its spellings of true and false its booleans; numbers stay numbers (all-missing
columns float NaN, as in pandas); columns pyarrow would read as dates or times are read again as the text they are
(pandas does not parse dates). Anything pyarrow refuses (a ragged row, an unclosed
quote, an unnamed column) returns None: the pandas reader then reads the file and names what is wrong.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["ARROW_CSV_BYTES", "PANDAS_NA_VALUES", "read_arrow_csv"]

ARROW_CSV_BYTES = 256 * 1024  # below this, the pandas reader is as quick and types exactly as always
PANDAS_NA_VALUES = (  # pandas._libs.parsers.STR_NA_VALUES (pandas 2 and 3)
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip


def _utf8(data: bytes, text: str) -> bytes:
    """The bytes as UTF-8: the original when plain ASCII, else the decoded text (BOM dropped) re-encoded."""
    return data if data.isascii() else text.lstrip("\ufeff").encode("utf-8")


def _read(data: bytes, sep: str, as_text: tuple[str, ...]) -> Any:
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    return arrow_csv.read_csv(
        pa.py_buffer(data),
        parse_options=arrow_csv.ParseOptions(delimiter=sep, newlines_in_values=True),
        convert_options=arrow_csv.ConvertOptions(
            null_values=list(PANDAS_NA_VALUES),
            true_values=["True", "TRUE", "true"],  # pandas' spellings ("1" and "0" stay numbers)
            false_values=["False", "FALSE", "false"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            column_types=dict.fromkeys(as_text, pa.string()),
        ),
    )


def _to_pandas(table: Any) -> pd.DataFrame:
    import pyarrow as pa

    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_null(column.type):
            columns[name] = pd.Series(float("nan"), index=range(len(column)), dtype="float64")
        elif pa.types.is_boolean(column.type) and column.null_count:
            values = column.to_pandas().astype(object)
            columns[name] = values.where(values.notna(), float("nan"))
        else:
            columns[name] = column.to_pandas()
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))


def read_arrow_csv(data: bytes, text: str, sep: str) -> pd.DataFrame | None:
    """The file as pandas' reader would type it, or None when only that reader can (or can explain why not)."""
    import pyarrow as pa

    raw = _utf8(data, text)
    if raw.count(b'"') % 2:  # a quote never closed: pyarrow would take the rest of the file as its value
        return None
    try:
        table = _read(raw, sep, ())
        names = table.column_names
        if any(not name for name in names) or len(set(names)) != len(names):
            return None  # pandas names them 'Unnamed: n' (repeats were refused before)
        plain = (pa.types.is_integer, pa.types.is_floating, pa.types.is_string, pa.types.is_boolean, pa.types.is_null)
        retyped = tuple(f.name for f in table.schema if not any(check(f.type) for check in plain))
        if retyped:
            table = _read(raw, sep, retyped)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    return _to_pandas(table)
