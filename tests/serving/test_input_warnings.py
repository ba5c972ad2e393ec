"""Honest inputs: nulls, unseen categories and out-of-range values are scored, and each is named in `warnings`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tests.serving.zoo_versions import build_zoo_version

from adaptml.registry import LoadedVersion
from adaptml.schema import ColumnSpec, Schema
from adaptml.serving.compiled.derive import derive_fast_paths
from adaptml.serving.json_input import Records
from adaptml.serving.loaded import load_models
from adaptml.serving.predict import predict_all
from adaptml.serving.warnings import input_warnings

RECORD = {"size": 80.0, "rooms": 3, "city": "paris", "listed": "2024-03-01"}


def _warned(client, records):
    response = client.post("/api/v1/predict", json=records)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert all(value is not None for value in body["rows"][0]["predictions"].values())
    return body


def test_a_clean_record_has_no_warnings(client, published):
    body = _warned(client, RECORD)
    assert body["warnings"] == [] and body["warnings_omitted"] == 0


def test_a_null_where_training_had_none_is_scored_with_a_warning(client, published):
    body = _warned(client, {**RECORD, "rooms": None})
    assert body["warnings"] == [
        {"row": 1, "column": "rooms", "kind": "missing", "message": body["warnings"][0]["message"]}
    ]
    assert "rooms" in body["warnings"][0]["message"]


def test_an_unseen_category_is_scored_with_a_warning(client, published):
    body = _warned(client, [RECORD, {**RECORD, "city": "marseille"}])
    (warning,) = body["warnings"]
    assert (warning["row"], warning["column"], warning["kind"]) == (2, "city", "unseen_category")
    assert "marseille" in warning["message"]


def test_numbers_and_dates_outside_the_training_range_are_scored_with_warnings(client, published):
    body = _warned(client, {**RECORD, "size": 950.0, "rooms": 0, "listed": "2031-01-01"})
    found = {(w["column"], w["kind"]) for w in body["warnings"]}
    assert found == {("size", "out_of_range"), ("rooms", "out_of_range"), ("listed", "out_of_range")}
    size = next(w for w in body["warnings"] if w["column"] == "size")
    assert "950" in size["message"] and "above the training maximum" in size["message"]


def test_warnings_are_capped_and_the_rest_counted(client, published):
    body = _warned(client, [{**RECORD, "size": 1e6}] * 150)
    assert len(body["warnings"]) == 100 and body["warnings_omitted"] == 50
    assert [w["row"] for w in body["warnings"][:3]] == [1, 2, 3]


def test_input_warnings_is_pure_and_ordered_by_row_then_column():
    schema = Schema(
        "y",
        "regression",
        (
            ColumnSpec("a", "numeric", nullable=False, min=0.0, max=1.0),
            ColumnSpec("b", "categorical", categories=("x", "y"), n_unique=2),
        ),
    )
    columns = {"a": np.array([2.0, np.nan, 0.5]), "b": np.array(["z", "x", np.nan], dtype=object)}
    before = {k: v.copy() for k, v in columns.items()}
    found = input_warnings(schema, columns)
    assert [(w.row, w.column, w.kind) for w in found.items] == [
        (1, "a", "out_of_range"),
        (1, "b", "unseen_category"),
        (2, "a", "missing"),
    ]
    assert all(pd.Series(columns[k]).equals(pd.Series(before[k])) for k in columns)


def test_a_category_list_cut_short_at_training_warns_of_nothing():
    schema = Schema("y", "regression", (ColumnSpec("b", "categorical", categories=("x",), n_unique=500),))
    assert not input_warnings(schema, {"b": np.array(["never-seen"], dtype=object)})


def test_the_compiled_and_the_pickled_paths_report_the_same_warnings():
    zoo = build_zoo_version("adult", rows=600)  # the version test_fast_path and test_explain fit too
    version = LoadedVersion("zoo", "v1", dict(zoo.metadata), zoo.files)
    fast, slow = derive_fast_paths(load_models(version)), load_models(version)
    assert fast.fast_paths and any(path.enabled for path in fast.fast_paths.values())
    records = zoo.holdout.iloc[:20].astype(object).where(zoo.holdout.iloc[:20].notna(), None)
    records.loc[2, "age"] = 130
    records.loc[5, "workclass"] = "Astronaut"
    records.loc[7, "hours-per-week"] = None
    rows = records.to_dict("records")
    on_fast = predict_all(fast, Records(rows)).input_warnings
    on_slow = predict_all(slow, records).input_warnings
    assert on_fast == on_slow
    found = {(w.row, w.column, w.kind) for w in on_fast.items}
    assert {(3, "age", "out_of_range"), (6, "workclass", "unseen_category"), (8, "hours-per-week", "missing")} <= found


def test_a_few_rows_checked_value_by_value_warn_exactly_as_the_array_path_does():
    schema = Schema(
        "y",
        "regression",
        (
            ColumnSpec("a", "numeric", nullable=False, min=0.0, max=1.0),
            ColumnSpec("b", "categorical", categories=("x", "y"), n_unique=2),
            ColumnSpec("d", "datetime", nullable=False, min="2024-01-01", max="2024-12-31"),
        ),
    )
    dates = np.array(["2023-06-01", "NaT", "2024-05-01", "2025-02-01"], dtype="datetime64[ns]")
    few = {
        "a": np.array([2.0, np.nan, 0.5, -1.0]),
        "b": np.array(["z", "x", None, 3], dtype=object),
        "d": dates,
    }
    padding = 40  # beyond the few-rows path: the same values checked as arrays, after clean rows
    clean = {"a": 0.5, "b": "x", "d": np.datetime64("2024-05-01", "ns")}
    many = {
        name: np.concatenate((np.array([clean[name]] * padding, dtype=values.dtype), values))
        for name, values in few.items()
    }

    def listed(found, offset=0):
        return [(w.row - offset, w.column, w.kind, w.message) for w in found.items], found.total

    assert listed(input_warnings(schema, few)) == listed(input_warnings(schema, many), padding)
    assert listed(input_warnings(schema, few))[1] == 8  # a: 3, b: 2 (None is allowed), d: 3
    for limit in (1, 3):
        assert input_warnings(schema, few, limit=limit).total == 8
