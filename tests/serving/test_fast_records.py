"""JSON records typed without pandas: the same columns as the schema's strict coercion, or no answer at all
(then the pandas path types the request, or names its row and column), and the same predictions end to end."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.serving.zoo_versions import ZooVersion, build_zoo_version, messy_records

from adaptml.errors import InputError
from adaptml.registry import LoadedVersion
from adaptml.schema import ColumnSpec, Schema
from adaptml.serving.compiled.columns import frame_columns
from adaptml.serving.compiled.derive import derive_fast_paths
from adaptml.serving.compiled.records import coerce_records
from adaptml.serving.json_input import Records
from adaptml.serving.loaded import load_models, model_input
from adaptml.serving.predict import predict_all, prepare_input

SCHEMA = Schema(
    target="y",
    task="regression",
    columns=(
        ColumnSpec("size", "numeric", missing_markers=("n.a.",)),
        ColumnSpec("city", "categorical", categories=("Paris", "Oslo"), missing_markers=("unknown",)),
        ColumnSpec("listed", "datetime"),
    ),
)


def _pandas_columns(records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    typed = SCHEMA.coerce(model_input(Records(records).frame()), strict=True)
    return frame_columns(typed.reset_index(drop=True))


def _assert_same(fast: dict[str, np.ndarray], slow: dict[str, np.ndarray]) -> None:
    assert list(fast) == list(slow)
    for name in slow:
        assert fast[name].dtype == slow[name].dtype, name
        left, right = fast[name], slow[name]
        if left.dtype == object:
            assert [None if isinstance(v, float) and math.isnan(v) else v for v in left] == [
                None if isinstance(v, float) and math.isnan(v) else v for v in right
            ], name
            assert all(type(a) is type(b) for a, b in zip(left, right, strict=True)), name
        else:
            np.testing.assert_array_equal(left, right, err_msg=name)


@pytest.mark.parametrize(
    "records",
    [
        [{"size": 71, "city": "Paris", "listed": "2021-03-04"}],
        [{"size": 71.25, "city": " Oslo ", "listed": None, "extra": 1}],
        [{"size": None, "city": "?", "listed": ""}],
        [{"size": float("nan"), "city": "unknown", "listed": " 2020-02-29 "}],
        [{"size": 2**60, "city": "Lyon", "listed": "1999-12-31"}, {"size": 3, "city": None}],
        [{"size": 1, "city": "none"}, {"size": 2.5, "city": "-", "listed": "2000-01-01", "note": "x"}],
    ],
)
def test_records_are_typed_exactly_as_the_schema_coerces_them(records):
    fast = coerce_records(SCHEMA, records)
    assert fast is not None
    _assert_same(fast.columns, _pandas_columns(records))
    assert fast.rows == len(records)
    assert fast.extras == tuple(SCHEMA.extra_columns(Records(records).frame().columns))


@pytest.mark.parametrize(
    "record",
    [
        {"size": "71", "city": "Paris", "listed": "2021-03-04"},  # text in a numeric column
        {"size": True, "city": "Paris", "listed": "2021-03-04"},  # a boolean
        {"size": float("inf"), "city": "Paris", "listed": "2021-03-04"},  # an infinity
        {"size": 1, "city": 7, "listed": "2021-03-04"},  # a number in a text column
        {"size": 1, "city": "Paris", "listed": "2021-03-04 10:00"},  # a time of day
        {"size": 1, "city": "Paris", "listed": "2021-02-30"},  # no such date
        {"size": 1, "city": {"a": 1}, "listed": "2021-03-04"},  # nested
        {"size": 1, "city": "Paris"},  # a column absent from every record
        {"size": 1, "city": "Paris\ud800", "listed": "2021-03-04"},  # a lone surrogate
    ],
)
def test_anything_unusual_is_left_to_the_pandas_path(record):
    assert coerce_records(SCHEMA, [record]) is None


def test_the_pandas_path_still_names_the_row_and_column():
    records = Records([{"size": 1, "city": "Paris", "listed": "x"}, {"size": "big", "city": "Oslo", "listed": None}])
    with pytest.raises(InputError, match="row 2, column 'size'"):
        prepare_input(SCHEMA, records)


@pytest.fixture(scope="module")
def adult() -> ZooVersion:
    return build_zoo_version("adult")


@pytest.mark.parametrize("compiled", [True, False])
def test_predictions_from_records_equal_the_frame_path(adult, compiled):
    models = load_models(LoadedVersion("zoo", "v1", dict(adult.metadata), adult.files))
    models = derive_fast_paths(models) if compiled else models
    frame = messy_records(adult.holdout).head(40)
    records = [{k: (None if v is None or v != v else v) for k, v in row.items()} for row in frame.to_dict("records")]
    assert coerce_records(models.schema, records) is not None
    for chosen in ([records[0]], records):
        fast = predict_all(models, Records(chosen))
        slow = predict_all(models, pd.DataFrame.from_records(chosen))
        assert fast.row_count == slow.row_count == len(chosen)
        pd.testing.assert_frame_equal(fast.inputs, slow.inputs)
        for left, right in zip(fast.outputs, slow.outputs, strict=True):
            assert list(left.predictions) == list(right.predictions), left.name
            if right.probabilities is not None:
                np.testing.assert_array_equal(left.probabilities, right.probabilities)
