"""The refit on every row with the chosen hyperparameters, the time budget's decisions, and the gate sample."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from adaptml.serving.compiled import GATE_FILE as SERVING_GATE_FILE
from adaptml.training.budget import (
    SCORES_PER_MODEL,
    Budget,
    Measured,
    affordable_folds,
    closing_models,
    closing_tasks,
    pending_refits,
    plan_refit,
    plan_training,
    process_started,
    started_at,
    time_scoring,
)
from adaptml.training.diagnostics import BOOTSTRAP_ROUNDS
from adaptml.training.ensemble import ROUNDS as ENSEMBLE_ROUNDS
from adaptml.training.fitting import refit_model
from adaptml.training.packaging import GATE_FILE, gate_csv
from adaptml.training.steps import MODEL
from adaptml.training.zoo import spec

from .conftest import Problem, prepare
from .frames import messy_frame


@pytest.fixture(scope="module")
def regression() -> Problem:
    return prepare(messy_frame(400), "price")


def _every_row(problem: Problem) -> pd.DataFrame:
    return pd.concat([problem.parts.train, problem.parts.test], ignore_index=True)


def test_a_booster_refits_on_every_row_with_its_early_stopped_count_scaled(regression: Problem) -> None:
    result = regression.fit("lightgbm")
    chosen = result.frozen["n_estimators"]
    assert result.frozen["early_stopping"] is False and chosen < spec("lightgbm").params("regression")["n_estimators"]
    rows = _every_row(regression)
    ratio = len(rows) / len(regression.parts.train)
    model = refit_model(
        "lightgbm",
        rows,
        schema=regression.schema,
        plan=regression.plan,
        info=regression.info,
        seed=0,
        frozen=result.frozen,
        ratio=ratio,
    )
    assert model.named_steps[MODEL].best_iteration_ == round(chosen * ratio)
    assert model.predict(regression.parts.test).shape == (len(regression.parts.test),)


def test_a_model_without_iterations_refits_with_the_same_hyperparameters(regression: Problem) -> None:
    result = regression.fit("random_forest", budget_seconds=1.0)
    rows = _every_row(regression)
    model = refit_model(
        "random_forest",
        rows,
        schema=regression.schema,
        plan=regression.plan,
        info=regression.info,
        seed=0,
        frozen=result.frozen,
        ratio=1.25,
    )
    fitted = model.named_steps[MODEL].get_params()
    assert {k: fitted[k] for k in result.params} == result.params
    assert fitted["n_estimators"] == spec("random_forest").params("regression")["n_estimators"]


def test_the_first_real_model_always_trains_and_a_later_one_is_skipped_when_its_estimate_does_not_fit() -> None:
    budget = Budget(60.0, started=1000.0)
    first = plan_training(
        budget, cost=1.0, overhead=0.5, trained=[], later=[1.0], refit_share=0.3, tuning_cap=0, now=1000.0 + 59.0
    )
    assert first.train
    trained = [Measured(seconds=20.5, cost=1.0)]  # 20 s per unit of cost beyond the 0.5 s overhead
    # 35 s left after the 6 + 9 s reserve: 20.5 s to train and 0.3 x (20.5 + 20.5) s to evaluate fit
    fits = plan_training(
        budget, cost=1.0, overhead=0.5, trained=trained, later=[], refit_share=0.0, tuning_cap=0, now=1000.0 + 10.0
    )
    assert fits.train and fits.estimate == pytest.approx(20.5)
    late = plan_training(
        budget, cost=2.0, overhead=0.5, trained=trained, later=[], refit_share=0.0, tuning_cap=0, now=1000.0 + 10.0
    )
    assert not late.train and late.reason.startswith("skipped: an estimated 40.5s")


def test_the_refits_of_the_models_already_trained_are_kept_for_the_end() -> None:
    budget = Budget(60.0, started=0.0)
    trained = [Measured(seconds=9.0, cost=1.0, refit_seconds=3.75)] * 2  # 3 s fits, refit on 1.25 x the rows
    # 21 s left after the 6 + 9 s reserve; the candidate: 9 s to train and 0.3 x 27 s to evaluate -> 17.1 s
    without_refit = plan_training(
        budget, cost=1.0, overhead=0.0, trained=trained, later=[], refit_share=0.0, tuning_cap=0, now=24.0
    )
    assert without_refit.train
    # a refit of 1.25 x one fit: 3.75 s each for the two trained models (+ 0.3 s each and the baseline's) and
    # 3.75 s for the candidate's own: 12.75 + 8.1 s would fit in 21 s, but not in 21 s less the 8.4 s kept for
    # the refits already owed
    refit_share = 1.25 / 3
    assert pending_refits(trained, refit_share) == pytest.approx(2 * 3.75 + 3 * 0.3)
    assert pending_refits(trained, 0.0) == 0.0
    with_refit = plan_training(
        budget, cost=1.0, overhead=0.0, trained=trained, later=[], refit_share=refit_share, tuning_cap=0, now=24.0
    )
    assert not with_refit.train and "the trained models' refits" in with_refit.reason


def test_a_model_whose_training_fits_but_not_its_evaluation_is_skipped() -> None:
    budget = Budget(60.0, started=0.0)
    trained = [Measured(seconds=10.0, cost=1.0)] * 3  # 10 s per unit of cost, 30 s already trained
    # 11 s left after the 6 + 9 s reserve: 10 s to train fits, 0.3 x (30 + 10) = 12 s more to evaluate does not
    decision = plan_training(
        budget, cost=1.0, overhead=0.0, trained=trained, later=[], refit_share=0.0, tuning_cap=0, now=34.0
    )
    assert not decision.train and "12.0s to evaluate" in decision.reason


def test_tuning_gets_only_what_the_remaining_models_leave() -> None:
    budget = Budget(100.0, started=0.0)
    trained = [Measured(seconds=10.0, cost=1.0)]
    decision = plan_training(
        budget, cost=1.0, overhead=0.0, trained=trained, later=[1.0, 1.0], refit_share=0.0, tuning_cap=30.0, now=10.0
    )
    # 100 - 10 elapsed - (10 + 10) reserve = 70 left; 3 models x 10 s and 0.3 x (10 + 10) s to evaluate -> 34 spare
    assert decision.tuning_seconds == pytest.approx(34.0 / 3)
    unbounded = plan_training(
        Budget(0.0, 0.0), cost=1.0, overhead=0.0, trained=trained, later=[], refit_share=0.0, tuning_cap=7.0, now=1e9
    )
    assert unbounded.train and unbounded.tuning_seconds == 7.0


def test_the_folds_shrink_to_what_the_time_left_affords_but_never_below_two() -> None:
    assert affordable_folds(5, fit_seconds=1.0, seconds_left=float("inf")) == 5
    assert affordable_folds(5, fit_seconds=1.0, seconds_left=10.0) == 5
    assert affordable_folds(5, fit_seconds=1.0, seconds_left=2.5) == 3  # 3 folds: 2 whole fits
    assert affordable_folds(5, fit_seconds=10.0, seconds_left=0.0) == 2  # every row still gets an OOF prediction
    assert affordable_folds(2, fit_seconds=10.0, seconds_left=0.0) == 2


def test_a_slow_fit_cross_validates_in_fewer_folds_with_every_row_out_of_fold(regression: Problem) -> None:
    result = regression.fit("ridge", seconds_left=0.0)
    assert len(result.cv_scores) == 2
    assert len(result.oof) == len(regression.parts.train)


def test_the_refit_happens_only_when_its_estimate_fits_and_it_is_enabled() -> None:
    budget = Budget(60.0, started=0.0)
    seconds = {"lightgbm": 8.0, "ridge": 1.0}
    assert plan_refit(budget, enabled=True, fit_seconds=seconds, ratio=1.25, now=30.0).refit
    late = plan_refit(budget, enabled=True, fit_seconds=seconds, ratio=1.25, now=50.0)
    assert not late.refit and late.reason.startswith("not refit: an estimated 11.9s")
    off = plan_refit(budget, enabled=False, fit_seconds=seconds, ratio=1.25, now=0.0)
    assert not off.refit and "publish.refit is off" in off.reason


def test_the_gate_sample_is_seeded_raw_records_with_the_input_columns(regression: Problem) -> None:
    raw = messy_frame(400)
    first = pd.read_csv(pd.io.common.BytesIO(gate_csv(raw, regression.schema, rows=300, seed=0)))
    again = pd.read_csv(pd.io.common.BytesIO(gate_csv(raw, regression.schema, rows=300, seed=0)))
    assert len(first) == 300 and list(first.columns) == list(regression.schema.names)
    pd.testing.assert_frame_equal(first, again)
    assert GATE_FILE == SERVING_GATE_FILE


def test_the_closing_stages_scores_are_kept_for_every_model_still_to_be_closed() -> None:
    budget = Budget(60.0, started=0.0)
    trained = [Measured(seconds=2.0, cost=1.0)] * 2  # fast models: training alone would fit
    free = plan_training(
        budget, cost=1.0, overhead=0.0, trained=trained, later=[], refit_share=0.0, tuning_cap=0, now=10.0
    )
    assert free.train
    # 30 ms per multiclass score, 230 scores per model, 5 models to close (3 trained, baseline, ensemble): 34.5 s
    slow = plan_training(
        budget,
        cost=1.0,
        overhead=0.0,
        trained=trained,
        later=[],
        refit_share=0.0,
        tuning_cap=0,
        scoring_seconds=0.03,
        now=10.0,
    )
    assert not slow.train and "36.3s to evaluate" in slow.reason
    assert closing_models(1) == 2 and closing_models(2) == 4


def test_the_scores_per_model_are_the_ensemble_rounds_and_the_bootstrap_rounds() -> None:
    assert SCORES_PER_MODEL == ENSEMBLE_ROUNDS + BOOTSTRAP_ROUNDS
    assert time_scoring(lambda: None) >= 0.0


def test_a_process_start_is_boot_time_plus_its_start_ticks() -> None:
    stat = "cpu  1 2 3 4\nintr 5\nbtime 1700000000\nprocesses 9\n"
    own = "77 (adaptml train x) S " + " ".join(["0"] * 18) + " 12345 0 0"  # field 22: 12345 ticks after boot
    assert started_at(stat, own, ticks_per_second=100) == pytest.approx(1700000123.45)
    assert process_started() <= time.time()


def test_the_pipelines_time_between_tasks_is_kept_for_every_task_still_to_come() -> None:
    budget = Budget(60.0, started=0.0)
    trained = [Measured(seconds=2.0, cost=1.0)] * 2
    # 1 s between tasks: 2 later Train tasks and 5 refits + ensemble, evaluate, publish = 10 tasks -> 10 s
    decision = plan_training(
        budget, cost=1.0, overhead=0.0, trained=trained, later=[1.0, 1.0], refit_share=0.0, tuning_cap=0, now=10.0
    )
    slow = plan_training(
        budget,
        cost=1.0,
        overhead=0.0,
        trained=trained,
        later=[1.0, 1.0],
        refit_share=0.0,
        tuning_cap=0,
        task_seconds=1.0,
        now=32.0,
    )
    assert decision.train and closing_tasks(3) == 8
    assert not slow.train and "11.8s to evaluate" in slow.reason  # 2 s to train + 0.3 x 6 s + 10 s > 13 s left
