"""Strict coercion of big batches by distinct values: the schema's own rules, run once per distinct spelling.

``Schema.coerce`` cleans text one value at a time in Python (about 20 us per row and column); a text column of
100,000 rows rarely holds more than a few hundred distinct spellings. Each column that is not already numbers is
factorized, the distinct values go through the schema's own ``coerce_column``, and the results are spread back:
the same function on the same values, hence the same output. Columns of anything but text are coerced as
before. A bad value makes the whole column go through ``coerce_column`` again, so its message names the first
bad row exactly as before (the prediction core then lists every bad cell of the batch: ``cells.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from adaptml.errors import InputError
from adaptml.schema import ColumnSpec, Schema, coerce_column
from adaptml.serving.loaded import model_input

__all__ = ["BY_DISTINCT_ROWS", "coerce_strict"]

BY_DISTINCT_ROWS = 2_000  # below this, factorizing costs about what it saves
MISSING = {"numeric": np.nan, "categorical": np.nan, "datetime": np.datetime64("NaT", "ns")}


def _by_distinct(column: pd.Series, spec: ColumnSpec, row_offset: int) -> pd.Series:
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    try:
        typed = coerce_column(distinct, spec, strict=True, row_offset=row_offset)
    except InputError:  # name the first bad row of the column, not of its distinct values
        return coerce_column(model_input(column.to_frame())[column.name], spec, strict=True, row_offset=row_offset)
    values = typed.to_numpy()
    out = values.take(np.where(codes < 0, 0, codes)) if len(values) else np.empty(len(codes), dtype=values.dtype)
    if (codes < 0).any():
        out = out.copy() if out.base is not None else out
        out[codes < 0] = MISSING[spec.kind]
    return pd.Series(out, index=column.index, dtype=typed.dtype)


def coerce_strict(schema: Schema, frame: pd.DataFrame, *, row_offset: int = 1) -> pd.DataFrame:
    """``schema.coerce(model_input(frame), strict=True)``, computed per distinct value for big text columns."""
    if len(frame) < BY_DISTINCT_ROWS or any(name not in frame.columns for name in schema.names):
        return schema.coerce(model_input(frame), strict=True, row_offset=row_offset)
    columns = {}
    for spec in schema.columns:
        column = frame[spec.name]
        if pd.api.types.is_string_dtype(column):  # text only: 1, 1.0 and True would be one distinct value
            columns[spec.name] = _by_distinct(column, spec, row_offset)
        else:
            columns[spec.name] = coerce_column(
                model_input(column.to_frame())[spec.name], spec, strict=True, row_offset=row_offset
            )
    return pd.DataFrame(columns, index=frame.index)
