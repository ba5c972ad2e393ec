"""Input checks the schema's coercion does not make, each a clear 4xx naming what is wrong.

- none of the model's columns present: almost always a CSV without a header row, or with another delimiter;
- infinite numbers (JSON's ``Infinity``, ``1e400``, CSV's ``inf``): no model can use them, so the row is refused
  up front rather than failing in every model's cell;
- and, for what the app emits, version names outside the registry's pattern: a name is written into headers
  (``Content-Disposition``, ``X-Adaptml-Version``), metric labels and logs, so a crafted one is never echoed.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from adaptml.errors import InputError
from adaptml.schema import Schema

__all__ = ["VERSION_NAME", "check_columns_present", "check_finite", "is_version_name"]

SHOWN_COLUMNS = 5
# the registry's names: "20240131T120000Z-1a2b3c4d" from training, short names such as "v2" from tests and imports
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def is_version_name(name: object) -> bool:
    """Whether ``name`` is a registry version name, safe to put in a header, a file name, a label or a log line."""
    return isinstance(name, str) and VERSION_NAME.fullmatch(name) is not None


def _listed(names: list[str]) -> str:
    shown = ", ".join(f"'{name[:40]}'" for name in names[:SHOWN_COLUMNS])
    return shown + (f" and {len(names) - SHOWN_COLUMNS} more" if len(names) > SHOWN_COLUMNS else "")


def check_columns_present(schema: Schema, frame: pd.DataFrame) -> None:
    """Refuse input that shares no column with the schema, showing the columns it has and the ones expected."""
    given = [str(name) for name in frame.columns]
    if not given or any(name in given for name in schema.names):
        return
    raise InputError(
        f"none of the model's columns ({_listed(list(schema.names))}) is in the input, whose columns are "
        f"{_listed(given)}: a CSV needs a header row naming the columns"
    )


def check_finite(schema: Schema, typed: pd.DataFrame, *, row_offset: int = 1) -> None:
    """Refuse an infinite number in a numeric column, naming its row and column."""
    for spec in schema.columns:
        if spec.kind != "numeric" or spec.name not in typed.columns:
            continue
        values = typed[spec.name].to_numpy(dtype="float64", na_value=np.nan)
        infinite = np.isinf(values)
        if infinite.any():
            row = int(infinite.argmax()) + row_offset
            raise InputError(
                f"row {row}, column '{spec.name}': expected a finite number, got {values[row - row_offset]}",
                details={"row": row, "column": spec.name},
            )
