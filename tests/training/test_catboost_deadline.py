"""CatBoost's hard stop: inside ``fit_deadline`` a fit stops adding trees and keeps what it has."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pandas as pd

from adaptml.training.catboost_model import CatBoostClassifier, CatBoostRegressor, fit_deadline
from adaptml.training.steps import MODEL

from .conftest import prepare
from .frames import messy_frame


def _rows(n: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    return x, x["x"].to_numpy() * 2 + rng.normal(scale=0.3, size=n)


def test_a_passed_deadline_keeps_the_early_stopping_probe_cut_to_its_best_tree() -> None:
    x, y = _rows(400)
    with fit_deadline(time.time()):
        stopped = CatBoostRegressor(n_estimators=500, learning_rate=0.2).fit(x, y)
    assert stopped.best_iteration_ == stopped.model_.tree_count_ == 1  # one tree, then the clock said stop
    assert stopped.predict(x).shape == (400,)
    assert np.allclose(pickle.loads(pickle.dumps(stopped)).predict(x), stopped.predict(x))


def test_without_early_stopping_a_passed_deadline_keeps_the_trees_fitted_so_far() -> None:
    x, y = _rows(400)
    labels = np.where(y > 0, "up", "down")
    with fit_deadline(time.time()):
        stopped = CatBoostClassifier(n_estimators=200, early_stopping=False).fit(x, labels)
    assert stopped.best_iteration_ == stopped.model_.tree_count_ == 1
    assert np.allclose(stopped.predict_proba(x).sum(axis=1), 1.0)


def test_a_deadline_far_ahead_or_none_changes_nothing() -> None:
    x, y = _rows(400)
    free = CatBoostRegressor(n_estimators=300, learning_rate=0.2).fit(x, y)
    with fit_deadline(time.time() + 3600):
        bounded = CatBoostRegressor(n_estimators=300, learning_rate=0.2).fit(x, y)
    assert bounded.best_iteration_ == free.best_iteration_ > 1
    with fit_deadline(None):
        assert CatBoostRegressor(n_estimators=300, learning_rate=0.2).fit(x, y).best_iteration_ == free.best_iteration_


def test_a_model_with_no_time_left_still_publishes_a_fitted_catboost() -> None:
    problem = prepare(messy_frame(240, classify=True), "label", strategy="stratified")
    result = problem.fit("catboost", budget_seconds=0, seconds_left=0.0)
    assert len(result.cv_scores) == 2 and result.pipeline.named_steps[MODEL].best_iteration_ >= 1
    assert result.pipeline.predict_proba(problem.parts.test).shape == (len(problem.parts.test), 2)
