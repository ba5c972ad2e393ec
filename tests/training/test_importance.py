"""Held-out importance per input column: permutation for any model, gain for the boosters, bounded in rows and time."""

from __future__ import annotations

import itertools

import pytest

from adaptml.training.diagnostics import diagnose
from adaptml.training.evaluation import model_output
from adaptml.training.importance import gain_share, held_out_importance, permutation_by_column

from .conftest import Problem, prepare
from .frames import messy_frame


@pytest.fixture(scope="module")
def regression() -> Problem:
    return prepare(messy_frame(240), "price")


@pytest.fixture(scope="module")
def classification() -> Problem:
    return prepare(messy_frame(240, classify=True), "label", strategy="stratified")


def _test_rows(problem: Problem):
    target = problem.schema.target
    return problem.parts.test.drop(columns=[target]), problem.parts.test[target]


def test_the_signal_column_ranks_first_and_noise_near_zero(regression):
    model = regression.fit("ridge", cv_folds=2).pipeline
    frame, y = _test_rows(regression)
    before = frame.copy()
    result = permutation_by_column(model, frame, y, regression.info, seed=1)
    assert result["features"][0] == "x"  # price = 3x + ...: shuffling x hurts most
    by_name = dict(zip(result["features"], result["permutation"], strict=True))
    assert by_name["x"] > 10 * abs(by_name["noise"])
    assert result["complete"] and result["passes"] == 3 and result["rows"] == len(frame)
    assert set(result["features"]) == {str(c) for c in frame.columns}  # a feature is an input column
    assert frame.equals(before)  # the caller's frame is left alone


def test_rows_are_sampled_and_the_time_limit_cuts_repeats_short(regression):
    model = regression.fit("ridge", cv_folds=2).pipeline
    frame, y = _test_rows(regression)
    ticks = itertools.count()
    result = permutation_by_column(
        model, frame, y, regression.info, max_rows=20, time_limit=len(frame.columns) + 1.5, clock=lambda: next(ticks)
    )
    assert result["rows"] == 20
    assert result["passes"] == 1 and result["complete"]  # one full pass fits in the fake clock's budget, not two
    cut = permutation_by_column(model, frame, y, regression.info, time_limit=2.5, clock=lambda: next(ticks) * 1.0)
    assert not cut["complete"] and None in cut["permutation"]


def test_gain_share_sums_per_input_column_for_boosters_only(classification):
    frame, _ = _test_rows(classification)
    columns = [str(c) for c in frame.columns]
    lgbm = classification.fit("lightgbm", cv_folds=2).pipeline
    shares = gain_share(lgbm, columns)
    assert shares is not None and set(shares) == set(columns)
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-4) and max(shares, key=shares.get) == "x"
    xgb = gain_share(classification.fit("xgboost", cv_folds=2).pipeline, columns)
    assert xgb is not None and sum(xgb.values()) == pytest.approx(1.0, abs=1e-4)
    assert gain_share(classification.fit("ridge", cv_folds=2).pipeline, columns) is None


def test_held_out_importance_reaches_diagnostics_without_selection(classification):
    fitted = {name: classification.fit(name, cv_folds=2).pipeline for name in ("ridge", "lightgbm")}
    frame, y = _test_rows(classification)
    loaded: list[str] = []

    def load(name):
        loaded.append(name)
        return fitted[name]

    importance = held_out_importance(["ridge", "lightgbm"], load, frame, y, classification.info)
    assert importance is not None and importance["model"] == "ridge"
    assert importance["gain_model"] == "lightgbm" and loaded == ["ridge", "lightgbm"]
    assert "permutation importance of ridge" in importance["method"]
    outputs = {name: model_output(model, frame, classification.info) for name, model in fitted.items()}
    board = [{"model": name, "roc_auc": 0.9} for name in fitted]
    stored = diagnose(y, outputs, classification.info, board=board, selection=None, importance=importance)["importance"]
    assert stored["source"] == "held-out" and stored["features"][0] == "x"
    assert len(stored["gain_share"]) == len(stored["features"]) and stored["dropped"] == []
    assert held_out_importance([], load, frame, y, classification.info) is None


def test_a_slow_model_is_measured_on_fewer_rows_not_fewer_columns() -> None:
    big = prepare(messy_frame(1200), "price")
    model = big.fit("ridge", cv_folds=2).pipeline
    frame, y = _test_rows(big)
    assert len(frame) > 200
    ticks = itertools.count()  # every clock reading is one second later: the first prediction "took" a second
    result = permutation_by_column(model, frame, y, big.info, time_limit=5, clock=lambda: next(ticks))
    assert result["rows"] == 200  # MIN_ROWS: one pass over every column would not have fitted 5 s otherwise
