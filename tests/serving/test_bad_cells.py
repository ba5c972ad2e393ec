"""Every bad cell of a batch is reported (up to a cap) with its row, column, value and what was expected."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.serving.conftest import frame_to_csv, synthetic_frame

from adaptml.errors import BadCells
from adaptml.schema import infer_schema
from adaptml.serving.cells import MAX_PROBLEMS, cell_problems
from adaptml.serving.coercion import BY_DISTINCT_ROWS
from adaptml.serving.json_input import parse_json
from adaptml.serving.predict import prepare_input


def _features(rows: int = 8) -> pd.DataFrame:
    return synthetic_frame(rows).drop(columns=["price", "segment"]).astype({"size": object, "rooms": object})


@pytest.fixture(scope="module")
def schema() -> Any:
    return infer_schema(synthetic_frame(160).drop(columns=["segment"]), target="price", task="regression")


def test_every_bad_cell_is_listed_in_row_order(schema: Any) -> None:
    frame = _features()
    frame.loc[4, "rooms"] = "three"
    frame.loc[1, "listed"] = "someday"
    frame.loc[1, "size"] = "big"
    frame.loc[6, "size"] = "inf"
    with pytest.raises(BadCells) as caught:
        prepare_input(schema, frame)
    error = caught.value
    assert error.total == 4
    assert [(p["row"], p["column"]) for p in error.problems] == [(2, "size"), (2, "listed"), (5, "rooms"), (7, "size")]
    assert error.problems[0] == {"row": 2, "column": "size", "value": "big", "expected": "a number"}
    assert error.problems[-1]["expected"] == "a finite number"
    assert error.message.startswith("4 cells cannot be read")
    assert "row 2, column 'size': expected a number, got 'big'" in error.message
    assert error.details == {"row": 2, "column": "size"}


def test_one_bad_cell_reads_as_it_always_did(schema: Any) -> None:
    frame = _features()
    frame.loc[3, "size"] = "n/a?"
    with pytest.raises(BadCells, match=r"^row 4, column 'size': expected a number, got 'n/a\?'$"):
        prepare_input(schema, frame)


def test_the_list_stops_at_the_cap_and_counts_them_all(schema: Any) -> None:
    frame = _features(130)
    frame["size"] = "oops"
    frame.loc[0, "listed"] = "never"
    problems, total = cell_problems(schema, frame)
    assert total == 131 and len(problems) == MAX_PROBLEMS
    assert [p.row for p in problems[:3]] == [1, 1, 2]  # row 1's two cells, in column order, then row 2


def test_rows_are_numbered_in_the_whole_file_on_the_distinct_values_path(schema: Any) -> None:
    frame = _features(BY_DISTINCT_ROWS + 50).astype({"listed": object})
    frame.loc[BY_DISTINCT_ROWS + 3, "listed"] = "not a date"
    frame.loc[7, "listed"] = "3000-01-01"
    with pytest.raises(BadCells) as caught:
        prepare_input(schema, frame)
    assert [(p["row"], p["expected"]) for p in caught.value.problems] == [
        (8, "a date between 1677-09-21 and 2262-04-11"),
        (BY_DISTINCT_ROWS + 4, "a date"),
    ]


def test_nested_json_values_are_all_listed() -> None:
    body = b'[{"a": 1, "b": [1]}, {"a": {"x": 1}, "b": 2}, {"a": 3, "b": 4}]'
    with pytest.raises(BadCells) as caught:
        parse_json(body, max_rows=10)
    assert [(p["row"], p["column"], p["expected"]) for p in caught.value.problems] == [
        (1, "b", "a single value"),
        (2, "a", "a single value"),
    ]
    assert caught.value.total == 2


def test_the_api_answers_a_csv_with_every_bad_cell(client: Any, regression_bundle: Any) -> None:
    frame = regression_bundle.features.head(20).astype(object)
    for row in (2, 9, 15):
        frame.loc[row, "rooms"] = f"many{row}"
    frame.loc[9, "listed"] = "2023-02-30"
    response = client.post("/api/v1/predict", data=frame_to_csv(frame), content_type="text/csv")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error_code"] == "BAD_REQUEST" and body["problem_count"] == 4
    assert [(p["row"], p["column"], p["value"]) for p in body["problems"]] == [
        (3, "rooms", "many2"),
        (10, "rooms", "many9"),
        (10, "listed", "2023-02-30"),
        (16, "rooms", "many15"),
    ]
    assert body["details"] == {"row": 3, "column": "rooms"}


def test_the_api_lists_bad_json_records_too(client: Any) -> None:
    records = [{"size": "x", "rooms": 2, "city": "paris", "listed": "2023-01-01"} for _ in range(3)]
    records[1]["rooms"] = float("inf")
    records[2]["size"] = 50
    response = client.post(
        "/api/v1/predict",
        data=json.dumps(records),  # Python writes inf as JSON's extension Infinity
        content_type="application/json",
    )
    assert response.status_code == 400
    body = response.get_json()
    assert [(p["row"], p["column"]) for p in body["problems"]] == [(1, "size"), (2, "size"), (2, "rooms")]


def test_the_upload_page_names_every_bad_cell(client: Any, regression_bundle: Any) -> None:
    frame = regression_bundle.features.head(12).astype(object)
    frame.loc[[1, 4, 7], "size"] = ["a", "b", "c"]
    upload = {"file": (io.BytesIO(frame_to_csv(frame)), "batch.csv")}
    response = client.post("/upload", data=upload, content_type="multipart/form-data", headers={"Accept": "text/html"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "3 cells cannot be read" in page
    assert page.count("<li>row ") == 3
    for row, value in ((2, "a"), (5, "b"), (8, "c")):
        assert f"row {row}, column <code>size</code>: expected a number, got <code>{value}</code>" in page


def test_infinite_numbers_in_numeric_columns_are_listed(schema: Any) -> None:
    frame = _features().astype({"size": "float64"})
    frame.loc[[0, 5], "size"] = [np.inf, -np.inf]
    problems, total = cell_problems(schema, frame)
    assert total == 2 and [p.value for p in problems] == ["inf", "-inf"]
