"""The model zoo: one seeded estimator per config name, its encoder family, good defaults and a tuning space."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, RidgeCV

from adaptml.training.boosting import BoosterClassifier, BoosterRegressor

__all__ = [
    "ENSEMBLE",
    "FAMILY",
    "SEARCH_SPACE",
    "available_cores",
    "default_params",
    "frozen_params",
    "make_estimator",
]

ENSEMBLE = "ensemble"
FAMILY = {
    "dummy": "native",
    "ridge": "linear",
    "random_forest": "tree",
    "extra_trees": "tree",
    "hist_gradient_boosting": "native",
    "lightgbm": "native",
    "xgboost": "native",
}

_BOOSTER = {"n_estimators": 3000, "subsample": 0.8, "colsample_bytree": 0.7, "early_stopping": True}
# LightGBM: wider leaves with light regularisation; categoricals split natively (smoothed, one-hot when few levels)
_LIGHTGBM = {
    "learning_rate": 0.05,
    "num_leaves": 63,
    "min_child_samples": 10,
    "subsample_freq": 1,
    "reg_lambda": 1.0,
    "cat_smooth": 10.0,
    "min_data_per_group": 20,
    "max_cat_to_onehot": 8,
}
# XGBoost: categories partitioned natively rather than one-hot; depth 8 did worse than 6 on both bundled datasets
_XGBOOST = {"learning_rate": 0.05, "max_depth": 6, "min_child_weight": 2.0, "max_cat_to_onehot": 1}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "dummy": {},
    "ridge": {"C": 1.0},
    # bagging on a row sample keeps forests a few seconds on tens of thousands of rows at little cost in accuracy
    "random_forest": {"n_estimators": 60, "min_samples_leaf": 3, "max_features": 0.5, "max_samples": 0.4},
    "extra_trees": {"n_estimators": 60, "min_samples_leaf": 3, "max_features": 0.7},
    "hist_gradient_boosting": {
        "learning_rate": 0.1,
        "max_leaf_nodes": 31,
        "l2_regularization": 1.0,
        "max_iter": 3000,
        "early_stopping": True,
    },
    "lightgbm": {**_BOOSTER, **_LIGHTGBM},
    "xgboost": {**_BOOSTER, **_XGBOOST},
}

SEARCH_SPACE: dict[str, dict[str, list[Any]]] = {
    "ridge": {"C": [0.01, 0.1, 1.0, 10.0]},
    "random_forest": {"min_samples_leaf": [1, 2, 4, 8], "max_features": [0.3, 0.5, 0.7, "sqrt"]},
    "extra_trees": {"min_samples_leaf": [1, 2, 4, 8], "max_features": [0.5, 0.7, 1.0, "sqrt"]},
    "hist_gradient_boosting": {
        "learning_rate": [0.03, 0.05, 0.1],
        "max_leaf_nodes": [15, 31, 63, 127],
        "l2_regularization": [0.0, 1.0, 10.0],
        "min_samples_leaf": [5, 20, 50],
    },
    "lightgbm": {
        "num_leaves": [15, 31, 63, 127],
        "min_child_samples": [5, 10, 20, 50],
        "colsample_bytree": [0.5, 0.7, 0.8, 1.0],
        "reg_lambda": [0.0, 1.0, 10.0],
    },
    "xgboost": {
        "max_depth": [4, 6, 8, 10],
        "min_child_weight": [1.0, 3.0, 10.0],
        "colsample_bytree": [0.5, 0.7, 0.8, 1.0],
        "reg_lambda": [0.1, 1.0, 10.0],
    },
}


def frozen_params(name: str, model: BaseEstimator) -> dict[str, Any]:
    """Parameters that refit a fitted model with the tree count its early stopping chose, without stopping again."""
    if name == "hist_gradient_boosting":
        return {"max_iter": int(model.n_iter_), "early_stopping": False}
    if name in ("lightgbm", "xgboost"):
        return {"n_estimators": int(model.best_iteration_), "early_stopping": False}
    return {}


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def default_params(name: str, task: str) -> dict[str, Any]:
    """The defaults of a zoo model; forests use sqrt-of-features for classification, as is customary."""
    params = dict(_DEFAULTS[name])
    if task == "classification" and name in ("random_forest", "extra_trees"):
        params["max_features"] = "sqrt"
    return params


def make_estimator(
    name: str, task: str, *, seed: int, n_jobs: int = 1, params: dict[str, Any] | None = None
) -> BaseEstimator:
    """A fresh, seeded estimator for a zoo name; ``params`` override the defaults (tuning)."""
    chosen = {**default_params(name, task), **(params or {})}
    classify = task == "classification"
    if name == "dummy":
        return DummyClassifier(strategy="prior") if classify else DummyRegressor(strategy="mean")
    if name == "ridge":
        if classify:
            # Newton-Cholesky converges in a few iterations on many rows and a modest (one-hot) feature count
            return LogisticRegression(C=chosen["C"], solver="newton-cholesky", max_iter=200, random_state=seed)
        return RidgeCV(alphas=np.logspace(-3, 3, 13))
    if name in ("random_forest", "extra_trees"):
        forest = {
            ("random_forest", True): RandomForestClassifier,
            ("random_forest", False): RandomForestRegressor,
            ("extra_trees", True): ExtraTreesClassifier,
            ("extra_trees", False): ExtraTreesRegressor,
        }[(name, classify)]
        return forest(random_state=seed, n_jobs=n_jobs, **chosen)
    if name == "hist_gradient_boosting":
        hgb = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return hgb(
            validation_fraction=0.1, n_iter_no_change=50, categorical_features="from_dtype", random_state=seed, **chosen
        )
    if name in ("lightgbm", "xgboost"):
        booster = BoosterClassifier if classify else BoosterRegressor
        stop = bool(chosen.pop("early_stopping"))
        return booster(library=name, params=chosen, early_stopping=stop, random_state=seed, n_jobs=n_jobs)
    raise ValueError(f"unknown model {name!r}")
