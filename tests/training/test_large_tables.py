"""Large tables within the budget: a baseline at next to no cost, the published floor always refit."""

from __future__ import annotations

import numpy as np
import pytest

from adaptml.training.budget import (
    Budget,
    Measured,
    TrainDecision,
    bounded_seconds,
    pending_refits,
    plan_refit,
    plan_training,
    planned_folds,
)
from adaptml.training.fitting import BASELINE_SAMPLE_ROWS, cv_splits
from adaptml.training.zoo import LARGE_ROWS

from .conftest import Problem, prepare
from .frames import messy_frame


@pytest.fixture(scope="module")
def regression() -> Problem:
    return prepare(messy_frame(400), "price")


@pytest.fixture(scope="module")
def classification() -> Problem:
    return prepare(messy_frame(400, classify=True), "label", strategy="stratified")


def test_the_baseline_predicts_each_folds_training_mean_out_of_fold(regression: Problem) -> None:
    result = regression.fit("dummy", cv_folds=4)
    y = regression.parts.train["price"]
    for fit_rows, held_rows in cv_splits(y, regression.info, folds=4, seed=0):
        assert np.allclose(result.oof[held_rows], y.iloc[fit_rows].mean())
    raw = regression.frame.drop(columns=["price"]).head(5)
    assert np.allclose(result.pipeline.predict(raw), y.mean())  # the whole pipeline still predicts raw rows


def test_the_baseline_fits_its_features_on_a_sample_and_its_prior_on_every_row(classification: Problem) -> None:
    assert len(classification.parts.train) * 10 > BASELINE_SAMPLE_ROWS  # the sample is what a big table is cut to
    result = classification.fit("dummy")
    y = classification.parts.train["label"]
    raw = classification.frame.drop(columns=["label"]).head(3)
    expected = y.value_counts(normalize=True).reindex(result.pipeline.classes_).to_numpy()
    assert np.allclose(result.pipeline.predict_proba(raw), expected)
    assert result.oof.shape == (len(y), 2) and np.allclose(result.oof.sum(axis=1), 1.0)


def test_the_published_floor_is_refit_alone_when_the_whole_refit_does_not_fit() -> None:
    budget = Budget(60.0, started=0.0)
    seconds = {"dummy": 0.1, "hgb_default": 8.0, "lightgbm": 20.0}
    late = plan_refit(budget, enabled=True, fit_seconds=seconds, ratio=1.25, required=("hgb_default",), now=50.0)
    assert late.refit and late.only == ("hgb_default",) and late.estimate == pytest.approx(1.25 * 8.0 + 0.3)
    assert late.to_dict()["only"] == ["hgb_default"] and "only hgb_default is refit" in late.reason
    whole = plan_refit(budget, enabled=True, fit_seconds=seconds, ratio=1.25, required=("hgb_default",), now=0.0)
    assert whole.refit and whole.only == ()  # when everything fits, everything is refit
    other = plan_refit(budget, enabled=True, fit_seconds=seconds, ratio=1.25, now=50.0)
    assert not other.refit  # a published model that is not the floor: all or none, as before
    off = plan_refit(budget, enabled=False, fit_seconds=seconds, ratio=1.25, required=("hgb_default",), now=50.0)
    assert not off.refit


def test_a_large_table_plans_two_folds_and_a_small_one_its_configured_folds() -> None:
    assert planned_folds(5, LARGE_ROWS) == 2 and planned_folds(5, LARGE_ROWS - 1) == 5
    assert planned_folds(2, 10 * LARGE_ROWS) == 2


def test_a_deadline_bound_booster_trains_in_what_is_left() -> None:
    budget = Budget(60.0, started=0.0)
    floor = [Measured(8.0, 0.5)]

    def decide(now: float, bounded: bool = False) -> TrainDecision:
        return plan_training(
            budget,
            cost=1.5,
            overhead=0.5,
            trained=floor,
            later=[1.0],
            refit_share=0.4,
            tuning_cap=30.0,
            stops_at_deadline=bounded,
            now=now,
        )

    skipped = decide(20.0)  # estimate: (0.5 + 15 * 1.5) * 1.4, over the 25 s left
    assert not skipped.train and skipped.estimate == pytest.approx(32.2)
    bounded = decide(20.0, bounded=True)
    left = 60.0 - 20.0 - budget.closing_reserve() - pending_refits(floor, 0.4)  # the floor's refit is owed
    assert bounded.train and bounded.seconds == pytest.approx((left - 0.3 * 8.0) / 1.3) and bounded.tuning_seconds == 0
    late = decide(35.0, bounded=True)
    assert not late.train  # less than the floor took: it would be cut before it could match it


def test_bounded_seconds_need_a_trained_model_to_compare_with() -> None:
    assert bounded_seconds(30.0, [], 0.0) is None
    assert bounded_seconds(30.0, [Measured(5.0, 1.0)], 1.0) == pytest.approx((30.0 - 1.0 - 1.5) / 1.3)
    assert bounded_seconds(5.0, [Measured(5.0, 1.0)], 0.0) is None
