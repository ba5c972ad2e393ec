"""Input checks the schema's coercion does not make, each a clear 4xx naming what is wrong.

- none of the model's columns present: almost always a CSV without a header row, or with another delimiter;
- and, for what the app emits, version names outside the registry's pattern: a name is written into headers
  (``Content-Disposition``, ``X-Adaptml-Version``), metric labels and logs, so a crafted one is never echoed.
"""

from __future__ import annotations

import re

import pandas as pd

from adaptml.errors import InputError, PayloadTooLarge
from adaptml.schema import Schema

__all__ = [
    "MAX_NAME_CHARS",
    "MIN_WIDTH",
    "VERSION_NAME",
    "check_columns_present",
    "check_width",
    "is_version_name",
    "width_limit",
]

SHOWN_COLUMNS = 5
MIN_WIDTH, WIDTH_FACTOR = 16_384, 4  # columns per record: wide spreadsheet exports pass, their extras reported
MAX_NAME_CHARS = 256
# the registry's names: "20240131T120000Z-1a2b3c4d" from training, short names such as "v2" from tests and imports
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def is_version_name(name: object) -> bool:
    """Whether ``name`` is a registry version name, safe to put in a header, a file name, a label or a log line."""
    return isinstance(name, str) and VERSION_NAME.fullmatch(name) is not None


def _listed(names: list[str]) -> str:
    shown = ", ".join(f"'{name[:40]}'" for name in names[:SHOWN_COLUMNS])
    return shown + (f" and {len(names) - SHOWN_COLUMNS} more" if len(names) > SHOWN_COLUMNS else "")


def width_limit(schema: Schema | None) -> int:
    """How many columns one record may have: four times the model's, and never fewer than ``MIN_WIDTH``."""
    return max(MIN_WIDTH, WIDTH_FACTOR * len(schema.columns)) if schema is not None else MIN_WIDTH


def check_width(schema: Schema, frame: pd.DataFrame) -> None:
    """Refuse a frame wider than ``width_limit`` (413) or with a column name over ``MAX_NAME_CHARS`` (400)."""
    width = width_limit(schema)
    if len(frame.columns) > width:
        raise PayloadTooLarge(
            f"too wide: {len(frame.columns):,} columns, more than {width:,} (four times the model's, "
            f"at least {MIN_WIDTH})",
            details={"limit": "columns", "columns": width},
        )
    if any(len(str(name)) > MAX_NAME_CHARS for name in frame.columns):
        raise InputError(f"a column name is longer than {MAX_NAME_CHARS} characters")


def check_columns_present(schema: Schema, frame: pd.DataFrame) -> None:
    """Refuse input wider than allowed (``check_width``), or that shares no column with the schema, showing the
    columns it has and the ones expected."""
    check_width(schema, frame)
    given = [str(name) for name in frame.columns]
    if not given or any(name in given for name in schema.names):
        return
    raise InputError(
        f"none of the model's columns ({_listed(list(schema.names))}) is in the input, whose columns are "
        f"{_listed(given)}: a CSV needs a header row naming the columns"
    )
