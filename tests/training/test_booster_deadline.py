"""LightGBM, XGBoost and HistGradientBoosting stop at ``fit_deadline`` and keep what they have."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from adaptml.training.boosting import FIRST_ITERATIONS, BoosterRegressor, HGBClassifier, HGBRegressor
from adaptml.training.deadline import fit_deadline


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One OpenMP thread, as the pipeline uses on small tables: threads on 600 rows stall on a loaded machine."""
    with threadpool_limits(1):
        yield


def _rows(n: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    return x, np.sin(3 * x["x"].to_numpy()) + x["z"].to_numpy() + rng.normal(scale=0.3, size=n)


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("early_stopping", [True, False])
def test_a_passed_deadline_keeps_the_trees_so_far(library: str, early_stopping: bool) -> None:
    x, y = _rows(600)
    booster = BoosterRegressor(library, n_estimators=500, learning_rate=0.05, early_stopping=early_stopping)
    with fit_deadline(time.time()):
        stopped = booster.fit(x, y)
    assert 1 <= stopped.best_iteration_ <= 2  # one tree, then the clock said stop
    assert np.isfinite(stopped.predict(x)).all()
    assert np.allclose(pickle.loads(pickle.dumps(stopped)).predict(x), stopped.predict(x))


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_a_deadline_far_ahead_changes_nothing(library: str) -> None:
    x, y = _rows(600)
    free = BoosterRegressor(library, n_estimators=80, early_stopping=False).fit(x, y)
    with fit_deadline(time.time() + 3600):
        bounded = BoosterRegressor(library, n_estimators=80, early_stopping=False).fit(x, y)
    assert bounded.best_iteration_ == free.best_iteration_ == 80
    assert np.allclose(bounded.predict(x), free.predict(x))


def test_hgb_past_its_deadline_fits_scikit_learns_default_100_iterations_and_restores_its_params() -> None:
    x, y = _rows(600)
    model = HGBRegressor(max_iter=400, early_stopping=False, random_state=0)
    with fit_deadline(time.time()):
        model.fit(x, y)
    assert model.n_iter_ == FIRST_ITERATIONS == 100
    assert model.max_iter == 400 and model.warm_start is False  # its parameters as given: clone and refit see them
    default = HGBRegressor(max_iter=100, early_stopping=False, random_state=0).fit(x, y)
    assert np.allclose(model.predict(x), default.predict(x))


def test_hgb_with_time_continues_warm_started_to_its_max_iter_or_its_early_stop() -> None:
    x, y = _rows(600)
    with fit_deadline(time.time() + 3600):
        full = HGBRegressor(max_iter=250, early_stopping=False, random_state=0).fit(x, y)
        labels = np.where(y > 0, "up", "down")
        stopped = HGBClassifier(max_iter=3000, early_stopping=True, n_iter_no_change=5, random_state=0).fit(x, labels)
    assert full.n_iter_ == 250
    at_once = HGBRegressor(max_iter=250, early_stopping=False, random_state=0).fit(x, y)
    assert np.allclose(full.predict(x), at_once.predict(x))
    assert stopped.n_iter_ < 3000 and set(stopped.predict(x)) <= {"up", "down"}
