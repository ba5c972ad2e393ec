from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd
import pytest

from adaptml.training import select_features
from adaptml.training.fitting import PARALLEL_MIN_ROWS, threads_for
from adaptml.training.portfolio import candidates

from .conftest import Problem, prepare
from .frames import messy_frame

ZOO = (
    "dummy",
    "hgb_default",
    "ridge",
    "random_forest",
    "extra_trees",
    "hist_gradient_boosting",
    "lightgbm",
    "xgboost",
    "catboost",
)


@pytest.fixture(scope="module")
def classification() -> Problem:
    return prepare(messy_frame(240, classify=True), "label", strategy="stratified")


@pytest.fixture(scope="module")
def regression() -> Problem:
    return prepare(messy_frame(240), "price")


def raw_rows_with_surprises(raw: pd.DataFrame) -> pd.DataFrame:
    """Raw rows as the original file has them, plus missing values and a category never seen in training."""
    rows = raw.head(6).copy()
    rows.loc[rows.index[0], "city"] = "atlantis"
    rows.loc[rows.index[1], ["x", "amount", "signup"]] = [np.nan, " ?", ""]
    rows.loc[rows.index[2], "member"] = None
    return rows


@pytest.mark.parametrize("name", ZOO)
def test_every_classifier_keeps_the_original_labels(classification: Problem, name: str) -> None:
    result = classification.fit(name)
    model = pickle.loads(pickle.dumps(result.pipeline))
    raw = raw_rows_with_surprises(messy_frame(240, classify=True))
    proba = model.predict_proba(raw)
    assert list(model.classes_) == ["<=50K", ">50K"]
    assert np.allclose(proba.sum(axis=1), 1.0) and np.isfinite(proba).all()
    assert set(model.predict(raw)) <= {"<=50K", ">50K"}
    assert len(result.cv_scores) == 3 and result.oof.shape == (len(classification.parts.train), 2)


@pytest.mark.parametrize("name", ZOO)
def test_every_regressor_predicts_raw_rows(regression: Problem, name: str) -> None:
    result = regression.fit(name)
    predictions = result.pipeline.predict(raw_rows_with_surprises(messy_frame(240)))
    assert predictions.shape == (6,) and np.isfinite(predictions).all()
    assert result.pipeline.steps[0][0] == "coerce"
    assert result.oof.shape == (len(regression.parts.train),)


def test_fitting_is_seeded(regression: Problem) -> None:
    fits = [regression.fit("lightgbm", seed=3) for _ in range(2)]
    test = regression.parts.test
    assert np.array_equal(fits[0].pipeline.predict(test), fits[1].pipeline.predict(test))
    assert fits[0].cv_scores == fits[1].cv_scores


def test_tuning_searches_within_the_budget_and_keeps_defaults_first(regression: Problem) -> None:
    result = regression.fit("random_forest", cv_folds=2, budget_seconds=1.0)
    assert result.tuning["trials"] >= 1
    proven = {key for candidate in candidates("random_forest") for key in candidate.for_task("regression")}
    assert set(result.params) <= proven | {"min_samples_leaf", "max_features"}


def test_selection_keeps_informative_features_and_reports_scores(regression: Problem) -> None:
    report = select_features(regression.parts.train, target="price", plan=regression.plan, info=regression.info, seed=0)
    features = regression.plan.features
    assert set(report.kept) | set(report.dropped) == set(features)
    assert {"x", "amount"} <= set(report.kept)
    assert set(report.importance) == set(features)
    assert report.importance["x"] > report.importance["noise"]
    assert "permutation importance" in report.method


def test_threads_only_on_large_tables_of_an_idle_machine() -> None:
    cores = os.cpu_count() or 1
    assert threads_for(2, PARALLEL_MIN_ROWS, competing=0.0) == (2 if cores >= 2 else 1)
    assert threads_for(2, PARALLEL_MIN_ROWS - 1, competing=0.0) == 1  # small: synchronisation costs more than it saves
    assert threads_for(2, PARALLEL_MIN_ROWS, competing=float(cores)) == 1  # busy: a descheduled thread stalls nodes
    assert threads_for(1, 10 * PARALLEL_MIN_ROWS, competing=0.0) == 1
    assert threads_for(2, PARALLEL_MIN_ROWS) in (1, 2)  # measured: whatever the machine's state, a valid count
