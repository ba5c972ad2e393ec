"""Big batches coerced per distinct value: the same typed frame as the schema's coercion, the same messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptml.datasets import read_bundled
from adaptml.errors import InputError
from adaptml.schema import infer_schema
from adaptml.serving.coercion import BY_DISTINCT_ROWS, coerce_strict
from adaptml.serving.loaded import model_input
from adaptml.serving.parsing import parse_csv

TARGETS = {"adult": "income", "hotel_rates": "avg_price_per_room"}


@pytest.mark.parametrize("dataset", sorted(TARGETS))
def test_the_typed_frame_equals_the_schemas_coercion(dataset):
    raw = read_bundled(dataset)
    schema = infer_schema(raw, target=TARGETS[dataset], task="any")
    rows = raw.drop(columns=[TARGETS[dataset]]).sample(3 * BY_DISTINCT_ROWS, replace=True, random_state=0)
    messy = rows.astype(object).where(np.random.default_rng(0).random(rows.shape) > 0.05, None)
    for frame in (parse_csv(rows.to_csv(index=False).encode(), max_rows=10**6), messy.reset_index(drop=True)):
        expected = schema.coerce(model_input(frame), strict=True)
        pd.testing.assert_frame_equal(coerce_strict(schema, frame), expected)


def test_a_bad_value_is_named_by_its_row_in_the_whole_column():
    raw = read_bundled("hotel_rates").head(BY_DISTINCT_ROWS + 10)
    schema = infer_schema(raw, target=TARGETS["hotel_rates"], task="any")
    date = next(spec.name for spec in schema.columns if spec.kind == "datetime")
    frame = raw.astype({date: object})
    frame.loc[BY_DISTINCT_ROWS + 3, date] = "not a date"
    with pytest.raises(InputError, match=f"row {BY_DISTINCT_ROWS + 4}, column '{date}': expected a date"):
        coerce_strict(schema, frame)
