"""Result shaping: the CSV is spreadsheet-safe, JSON has no NaN, downloads are kept under unguessable names."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from adaptml.serving.loaded import ModelInfo
from adaptml.serving.predict import ModelOutput, PredictionResult
from adaptml.serving.results_cache import ResultCache
from adaptml.serving.tables import display_table, result_payload, results_frame, safe_cell, to_safe_csv


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_formula_like_text_is_quoted(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "", "1=1", -1.5, 3, None])
def test_other_values_are_untouched(value):
    assert safe_cell(value) == value


def test_csv_keeps_numbers_numeric_and_neutralises_text_and_headers():
    frame = pd.DataFrame({"=bad": [-1.5, 2.0], "city": ["=cmd", "ok"]})
    assert to_safe_csv(frame).decode().splitlines() == ["'=bad,city", "-1.5,'=cmd", "2.0,ok"]


def classification_result() -> PredictionResult:
    output = ModelOutput(
        "logit",
        np.array(["yes", None], dtype=object),
        np.array([[0.25, 0.75], [np.nan, np.nan]]),
        ("no", "yes"),
        {1: "ValueError: boom"},
    )
    return PredictionResult(
        project="p",
        version="v9",
        task="classification",
        models=(ModelInfo("logit", 1, "roc_auc", 0.91, True),),
        outputs=(output,),
        given=pd.DataFrame({"x": [1.0, np.nan]}),
    )


def test_payload_has_probabilities_errors_and_no_nan():
    payload = result_payload(classification_result())
    assert payload["rows"][0] == {
        "row": 1,
        "predictions": {"logit": "yes"},
        "probabilities": {"logit": {"no": 0.25, "yes": 0.75}},
    }
    assert payload["rows"][1] == {
        "row": 2,
        "predictions": {"logit": None},
        "probabilities": {"logit": None},
        "errors": {"logit": "ValueError: boom"},
    }
    assert payload["models"][0]["classes"] == ["no", "yes"] and payload["error_count"] == 1


def test_table_columns_and_error_cells():
    result = classification_result()
    frame = results_frame(result)
    assert list(frame.columns) == ["logit_prediction", "logit_proba_no", "logit_proba_yes", "x"]
    assert frame.loc[1, "logit_prediction"] == "error: ValueError: boom"
    shown = display_table(result, limit=1)
    assert shown.truncated and len(shown.rows) == 1 and shown.total_rows == 2
    assert [h.label for h in shown.headers] == ["logit", "P(no)", "P(yes)", "x"]
    assert shown.headers[0].detail == "#1 · roc_auc 0.91"


def test_result_cache_round_trip_and_token_checks(tmp_path):
    cache = ResultCache(tmp_path / "r", max_entries=2)
    tokens = []
    for age, data in ((300, b"n,0\n"), (200, b"n,1\n")):
        tokens.append(cache.put(data))
        os.utime(tmp_path / "r" / f"{tokens[-1]}.csv", (time.time() - age, time.time() - age))
    tokens.append(cache.put(b"n,2\n"))
    assert cache.get(tokens[2]) == b"n,2\n" and cache.get(tokens[1]) == b"n,1\n"
    assert cache.get(tokens[0]) is None  # pruned: only the newest two are kept
    assert cache.get("../../etc/passwd") is None and cache.get("short") is None
