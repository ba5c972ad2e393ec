"""The portfolio: proven configurations tried in priority order within a budget; CatBoost as a zoo member."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest

from adaptml.training.catboost_model import CatBoostClassifier, CatBoostRegressor
from adaptml.training.fitting import refit_model
from adaptml.training.portfolio import DEFAULT_CONFIG, PORTFOLIOS, Candidate, candidates, run_portfolio
from adaptml.training.steps import MODEL
from adaptml.training.zoo import spec

from .conftest import Problem, prepare
from .frames import messy_frame


@pytest.fixture(scope="module")
def classification() -> Problem:
    return prepare(messy_frame(240, classify=True), "label", strategy="stratified")


def test_every_portfolio_starts_with_the_defaults_and_names_known_parameters() -> None:
    for model, portfolio in PORTFOLIOS.items():
        assert portfolio[0].name == DEFAULT_CONFIG and not portfolio[0].params
        assert len({c.name for c in portfolio}) == len(portfolio)
        for task in ("regression", "classification"):
            known = spec(model).estimator(task, seed=0).get_params()
            for candidate in portfolio:
                assert set(candidate.for_task(task)) <= set(known), (model, candidate.name)
    assert candidates("hgb_default") == ()


def test_the_portfolio_runs_in_order_keeps_the_best_and_stops_when_the_budget_is_spent() -> None:
    portfolio = (Candidate("a"), Candidate("b", {"v": 2.0}), Candidate("c", per_task={"regression": {"v": 1.0}}))
    seen: list[dict[str, Any]] = []

    def evaluate(params: dict[str, Any]) -> list[float]:
        seen.append(params)
        error = abs(params.get("v", 5.0) - 1.0)
        return [error, error + 0.5]  # errors on two folds: lower is better

    winner, trials = run_portfolio(evaluate, portfolio, task="regression", higher_is_better=False, budget_seconds=60)
    assert [t.name for t in trials] == ["a", "b", "c"] and winner.name == "c" and seen[2] == {"v": 1.0}
    winner, trials = run_portfolio(evaluate, portfolio, task="regression", higher_is_better=False, budget_seconds=0)
    assert [t.name for t in trials] == ["a"] and winner.name == "a"  # the defaults always run


def test_a_configuration_must_win_on_every_fold_to_replace_the_defaults() -> None:
    portfolio = (Candidate("a"), Candidate("b", {"v": 1.0}))
    scores = {"a": [0.80, 0.80, 0.80], "b": [0.95, 0.79, 0.90]}  # better on average, worse on one fold
    winner, _ = run_portfolio(
        lambda p: scores["b" if p else "a"], portfolio, task="classification", higher_is_better=True, budget_seconds=9
    )
    assert winner.name == "a"


def test_a_tuned_fit_records_the_winning_configuration_and_its_early_stopped_count(classification: Problem) -> None:
    result = classification.fit("lightgbm", budget_seconds=600)
    names = [c.name for c in candidates("lightgbm")]
    assert result.config in names and result.tuning["trials"] == len(names)
    assert set(result.tuning["scores"]) == set(names)
    assert result.frozen["early_stopping"] is False and result.frozen["n_estimators"] >= 1
    untuned = classification.fit("lightgbm")
    assert untuned.config == DEFAULT_CONFIG and untuned.params == {}
    searched = classification.fit("lightgbm", budget_seconds=0.5, strategy="random")
    assert searched.config in {DEFAULT_CONFIG, "random"}


def _categorical_rows(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    city = pd.Categorical(rng.choice(["a", "b", "c", None], n), categories=["a", "b", "c"])
    x = pd.DataFrame({"x": rng.normal(size=n), "city": city})
    y = x["x"].to_numpy() + np.where(x["city"] == "b", 3.0, 0.0) + rng.normal(scale=0.5, size=n)
    return x, y


def test_catboost_splits_categories_natively_stops_early_and_pickles() -> None:
    x, y = _categorical_rows(400)
    model = CatBoostRegressor(n_estimators=500, learning_rate=0.2, n_jobs=2).fit(x, y)
    assert model.cat_features_ == ["city"] and 1 <= model.best_iteration_ < 500
    assert model.model_.get_params()["thread_count"] == 2
    restored = pickle.loads(pickle.dumps(model))
    assert np.allclose(restored.predict(x), model.predict(x)) and np.corrcoef(model.predict(x), y)[0, 1] > 0.9
    labels = np.where(y > 1.0, "high", "low")
    classifier = CatBoostClassifier(n_estimators=50).fit(x, labels)
    assert list(classifier.classes_) == ["high", "low"] and set(classifier.predict(x.head(5))) <= {"high", "low"}
    assert np.allclose(classifier.predict_proba(x).sum(axis=1), 1.0)


def test_catboost_refits_on_every_row_with_its_frozen_count(classification: Problem) -> None:
    result = classification.fit("catboost", budget_seconds=0)
    rows = pd.concat([classification.parts.train, classification.parts.test], ignore_index=True)
    ratio = len(rows) / len(classification.parts.train)
    model = refit_model(
        "catboost",
        rows,
        schema=classification.schema,
        plan=classification.plan,
        info=classification.info,
        seed=0,
        frozen=result.frozen,
        ratio=ratio,
    )
    assert model.named_steps[MODEL].best_iteration_ == round(result.frozen["n_estimators"] * ratio)
    assert pickle.loads(pickle.dumps(model)).predict_proba(classification.parts.test).shape[1] == 2


def test_a_configuration_starts_only_when_it_is_expected_to_end_within_the_budget() -> None:
    portfolio = (Candidate("a"), Candidate("b", {"v": 1.0}), Candidate("c", {"v": 2.0}))
    now = [0.0]  # a fake clock: each evaluation takes 10 s on it

    def evaluate(params: dict[str, Any]) -> list[float]:
        now[0] += 10.0
        return [1.0]

    _, trials = run_portfolio(
        evaluate, portfolio, task="regression", higher_is_better=False, budget_seconds=25, clock=lambda: now[0]
    )
    assert [t.name for t in trials] == ["a", "b"]  # c would start at 20 s and end at 30 s, past the 25 s budget
