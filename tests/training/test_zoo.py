"""The zoo's specs, the named pipeline steps, and the boosters' scikit-learn estimator contract."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as checks

from adaptml.training.boosting import BoosterClassifier, BoosterRegressor
from adaptml.training.steps import COERCE, ENCODE, MODEL, after, split_before
from adaptml.training.zoo import LARGE_ROWS, MODEL_NAMES, SPECS, ZOO, spec

from .conftest import Problem, prepare
from .frames import messy_frame

LIBRARIES = ("lightgbm", "xgboost")


@pytest.fixture(scope="module")
def regression() -> Problem:
    return prepare(messy_frame(400), "price")


def numbers(n: int = 300, *, classify: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = 2 * x["a"].to_numpy() - x["b"].to_numpy() + rng.normal(0, 0.1, n)
    return x, np.where(y > 0, "yes", "no") if classify else y


def test_the_specs_are_the_one_list_of_models() -> None:
    zoo = (
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
    assert zoo == MODEL_NAMES
    assert [s.name for s in SPECS] == list(ZOO) == list(MODEL_NAMES)
    with pytest.raises(ValueError, match="unknown model 'deep_net'; choose from dummy, hgb_default, ridge"):
        spec("deep_net")


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_every_spec_builds_a_fresh_seeded_estimator_with_its_defaults(name: str, task: str) -> None:
    model = spec(name)
    estimator = model.estimator(task, seed=7, n_jobs=2)
    params = estimator.get_params()
    assert all(params[key] == value for key, value in model.params(task).items() if key in params)
    assert params.get("random_state", 7) == 7 or name == "dummy"  # the prior needs no randomness
    assert clone(estimator).get_params().keys() == params.keys()
    assert set(model.search_space(task)) <= set(params) | {"C"}


def test_the_default_hgb_is_scikit_learns_defaults_untuned() -> None:
    model = spec("hgb_default")
    for task, default in (
        ("regression", HistGradientBoostingRegressor()),
        ("classification", HistGradientBoostingClassifier()),
    ):
        params = model.estimator(task, seed=0).get_params()
        assert params == {**default.get_params(), "random_state": 0}
        assert model.search_space(task) == {}
        fitted = SimpleNamespace(n_iter_=37)  # what a fit that early-stopped at 37 iterations holds
        assert model.refit_params({}, fitted) == {}  # at its defaults its own early stopping is left alone
    # on a large table it may grow more trees than the default 100; then its early-stopped count is frozen
    assert model.sized(LARGE_ROWS - 1) == {} and model.sized(LARGE_ROWS) == {"max_iter": 2000}
    assert model.refit_params({"max_iter": 2000}, fitted) == {"max_iter": 37, "early_stopping": False}


def test_task_specific_defaults_and_tuning() -> None:
    assert spec("random_forest").params("classification")["max_features"] == "sqrt"
    assert spec("random_forest").params("regression")["max_features"] == 0.5
    assert spec("ridge").search_space("regression") == {}  # RidgeCV chooses its own alpha
    assert spec("ridge").search_space("classification") == {"C": [0.01, 0.1, 1.0, 10.0]}
    assert spec("dummy").search_space("regression") == {}


def test_refits_freeze_the_iteration_count_early_stopping_chose() -> None:
    x, y = numbers()
    booster = spec("lightgbm").estimator("regression", seed=0, params={"learning_rate": 0.3}).fit(x, y)
    frozen = spec("lightgbm").refit_params({"learning_rate": 0.3}, booster)
    assert frozen == {"learning_rate": 0.3, "n_estimators": booster.best_iteration_, "early_stopping": False}
    assert 1 <= booster.best_iteration_ < 3000
    refit = spec("lightgbm").estimator("regression", seed=0, params=frozen).fit(x, y)
    assert refit.best_iteration_ == booster.best_iteration_
    hgb = spec("hist_gradient_boosting").estimator("regression", seed=0).fit(x, y)
    assert spec("hist_gradient_boosting").refit_params({}, hgb) == {"max_iter": hgb.n_iter_, "early_stopping": False}
    assert spec("random_forest").refit_params({"max_features": 0.3}, hgb) == {"max_features": 0.3}


def test_pipelines_are_cut_by_step_name(regression: Problem) -> None:
    pipeline = regression.fit("ridge", cv_folds=2).pipeline
    head, tail = split_before(pipeline, ENCODE)
    assert [n for n, _ in head.steps] == ["coerce", "dates", "select"]
    assert [n for n, _ in tail.steps] == [ENCODE, MODEL]
    assert tail.named_steps[MODEL] is pipeline.named_steps[MODEL]
    assert [n for n, _ in after(pipeline, COERCE).steps] == ["dates", "select", ENCODE, MODEL]
    with pytest.raises(ValueError, match="no step 'ensemble'"):
        split_before(pipeline, "ensemble")


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_fitted_spec_booster_clones_into_an_unfitted_equal(library: str) -> None:
    x, y = numbers(classify=True)
    booster = spec(library).estimator("classification", seed=3, n_jobs=1).fit(x, y)
    assert isinstance(booster, BoosterClassifier) and list(booster.classes_) == ["no", "yes"]
    twin = clone(booster)
    assert twin.get_params() == booster.get_params()
    assert not hasattr(twin, "model_") and not hasattr(twin, "best_iteration_")
    with pytest.raises(NotFittedError):
        twin.predict(x)
    assert np.array_equal(twin.fit(x, y).predict_proba(x), booster.predict_proba(x))  # seeded: same model again


def test_set_params_round_trips_and_reaches_the_library() -> None:
    booster = spec("lightgbm").estimator("regression", seed=0)
    params = booster.get_params()
    assert params["num_leaves"] == 63 and params["n_estimators"] == 3000 and params["library"] == "lightgbm"
    assert booster.set_params(**params).get_params() == params
    x, y = numbers()
    booster.set_params(num_leaves=7, early_stopping=False, n_estimators=12).fit(x, y)
    assert booster.get_params()["num_leaves"] == 7
    assert booster.model_.get_params()["num_leaves"] == 7 and booster.model_.n_estimators == 12
    with pytest.raises(ValueError, match="num_leaves is not a xgboost hyperparameter"):
        BoosterRegressor("xgboost", num_leaves=7).fit(x, y)
    with pytest.raises(ValueError, match="library must be one of lightgbm, xgboost"):
        BoosterRegressor("catboost").fit(x, y)


# scikit-learn's own contract checks that apply to estimators which accept NaN and keep original labels
CONTRACT: tuple[Callable[[str, Any], None], ...] = (
    checks.check_no_attributes_set_in_init,
    checks.check_parameters_default_constructible,
    checks.check_get_params_invariance,
    checks.check_set_params,
    checks.check_estimator_cloneable,
    checks.check_estimator_repr,
    checks.check_do_not_raise_errors_in_init_or_set_params,
    checks.check_dont_overwrite_parameters,
    checks.check_estimators_overwrite_params,
    checks.check_estimators_fit_returns_self,
    checks.check_estimators_unfitted,
    checks.check_fit_check_is_fitted,
    checks.check_mixin_order,
    checks.check_dict_unchanged,
)
BOOSTERS = [kind(library, n_estimators=5) for kind in (BoosterRegressor, BoosterClassifier) for library in LIBRARIES]


@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__)
@pytest.mark.parametrize("booster", BOOSTERS, ids=lambda b: f"{type(b).__name__}-{b.library}")
@pytest.mark.filterwarnings("ignore")
def test_boosters_meet_the_scikit_learn_estimator_contract(booster: Any, check: Callable[[str, Any], None]) -> None:
    check(type(booster).__name__, clone(booster))


def test_a_booster_pickled_before_a_hyperparameter_was_added_still_loads() -> None:
    import pickle

    import numpy as np

    from adaptml.training.boosting import BoosterRegressor

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 3)), rng.normal(size=80)
    model = BoosterRegressor(library="lightgbm", n_estimators=5, early_stopping=False).fit(x, y)
    state = model.__getstate__()
    del state["extra_trees"]  # as an older adaptml pickled it
    old = BoosterRegressor.__new__(BoosterRegressor)
    old.__setstate__(state)
    restored = pickle.loads(pickle.dumps(old))
    assert restored.extra_trees is None
    assert np.allclose(restored.predict(x), model.predict(x))
