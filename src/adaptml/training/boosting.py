"""LightGBM and XGBoost as scikit-learn estimators that pick their own number of trees and keep original labels.

With ``early_stopping``, each fit holds out a slice of the rows it is given (only ever training rows), stops adding
trees when that slice stops improving, then refits on all of them with that many trees. Classifiers encode labels
to integers inside (XGBoost needs them) and expose ``classes_`` with the original labels. Every hyperparameter is a
constructor argument (``None`` leaves the library's default), so ``get_params``, ``set_params`` and ``clone`` work.

Inside ``deadline.fit_deadline`` a fit stops adding trees at the deadline and keeps the trees it has (a callback
checks the clock after every tree); when the early-stopping probe runs out of time, the probe is the model.
scikit-learn's HistGradientBoosting (``HGBClassifier``, ``HGBRegressor``) has no callback: it fits a first 100
iterations (its own default), then continues warm-started with as many as its measured seconds per iteration fit
before the deadline."""

from __future__ import annotations

import inspect
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from adaptml.training.deadline import deadline, lightgbm_deadline, xgboost_deadline

__all__ = ["BoosterClassifier", "BoosterRegressor", "HGBClassifier", "HGBRegressor"]

MIN_ROWS_FOR_EARLY_STOPPING = 200
SMALL_DATA_TREES = 100
FIRST_ITERATIONS = 100  # HistGradientBoosting's first warm-start chunk: scikit-learn's default ``max_iter``
MIN_MORE_ITERATIONS = 10  # fewer would cost more in re-binning the rows than they add
# hyperparameters both libraries take, then each library's own; None leaves the library's default
_SHARED = ("n_estimators", "learning_rate", "subsample", "colsample_bytree", "reg_lambda", "max_cat_to_onehot")
_OWN = {
    "lightgbm": (
        "num_leaves",
        "min_child_samples",
        "subsample_freq",
        "cat_smooth",
        "min_data_per_group",
        "extra_trees",
    ),
    "xgboost": ("max_depth", "min_child_weight"),
}


class _Booster(BaseEstimator):
    """The shared fit: every hyperparameter is a constructor argument, so get_params, set_params and clone work."""

    _classifier = False

    def __init__(
        self,
        library: str = "lightgbm",
        *,
        n_estimators: int = SMALL_DATA_TREES,
        learning_rate: float | None = None,
        subsample: float | None = None,
        colsample_bytree: float | None = None,
        reg_lambda: float | None = None,
        max_cat_to_onehot: int | None = None,
        num_leaves: int | None = None,
        min_child_samples: int | None = None,
        subsample_freq: int | None = None,
        cat_smooth: float | None = None,
        min_data_per_group: int | None = None,
        extra_trees: bool | None = None,
        max_depth: int | None = None,
        min_child_weight: float | None = None,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 50,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.library = library
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_cat_to_onehot = max_cat_to_onehot
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample_freq = subsample_freq
        self.cat_smooth = cat_smooth
        self.min_data_per_group = min_data_per_group
        self.extra_trees = extra_trees
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A model pickled by an older adaptml lacks the hyperparameters added since: they take their defaults
        (None: the library's own), so published versions keep loading after an upgrade."""
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(_Booster.__init__).parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
        super().__setstate__({**defaults, **state})

    def _library_params(self) -> dict[str, Any]:
        """The hyperparameters that are set, checked against the chosen library (in ``fit``, as sklearn asks)."""
        if self.library not in _OWN:
            raise ValueError(f"library must be one of {', '.join(_OWN)}, got {self.library!r}")
        names = (*_SHARED, *_OWN[self.library])
        for other in (name for own in _OWN.values() for name in own if name not in names):
            if getattr(self, other) is not None:
                raise ValueError(f"{other} is not a {self.library} hyperparameter")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def _make(self, n_estimators: int | None = None, *, early_stopping: bool = False) -> Any:
        params = {**self._library_params(), "random_state": self.random_state, "n_jobs": self.n_jobs}
        if n_estimators is not None:
            params["n_estimators"] = n_estimators
        if self.library == "lightgbm":
            import lightgbm

            cls = lightgbm.LGBMClassifier if self._classifier else lightgbm.LGBMRegressor
            return cls(verbose=-1, **params)
        import xgboost

        cls = xgboost.XGBClassifier if self._classifier else xgboost.XGBRegressor
        extra: dict[str, Any] = {"early_stopping_rounds": self.patience} if early_stopping else {}
        at = deadline()
        if at is not None:
            extra["callbacks"] = [xgboost_deadline(at)]
        return cls(tree_method="hist", enable_categorical=True, **extra, **params)

    def _fit_library(self, model: Any, X: Any, y: np.ndarray, valid: tuple[Any, Any] | None = None) -> Any:  # noqa: N803
        """One library fit, with the deadline's callback and, given a ``valid`` slice, early stopping on it."""
        if self.library == "xgboost":
            model.fit(X, y, **({"eval_set": [valid], "verbose": False} if valid else {}))
            return model.set_params(callbacks=None)  # the deadline's callback is a local class: it would not pickle
        import lightgbm

        at = deadline()
        callbacks = [lightgbm_deadline(at)] if at is not None else []
        if valid is None:
            return model.fit(X, y, callbacks=callbacks)
        stop = lightgbm.early_stopping(self.patience, verbose=False)
        return model.fit(X, y, eval_X=(valid[0],), eval_y=(valid[1],), callbacks=[stop, *callbacks])

    def _count(self, model: Any, asked: int) -> int:
        """The trees asked for, or those the model has when the deadline has passed (it may have cut them)."""
        at = deadline()
        return self._trees(model) if at is not None and time.time() >= at else asked

    def _trees(self, model: Any) -> int:
        """The trees a fitted library model has (all of them: a deadline may have cut it short)."""
        if self.library == "xgboost":
            return int(model.get_booster().num_boosted_rounds())
        return int(model.booster_.current_iteration())

    def _targets(self, y: Any) -> np.ndarray:
        return np.asarray(y, dtype="float64")

    def _can_stop_early(self, y: np.ndarray) -> bool:
        if len(y) < MIN_ROWS_FOR_EARLY_STOPPING:
            return False
        return not self._classifier or int(np.bincount(y.astype(int)).min()) >= 2

    def fit(self, X: pd.DataFrame, y: Any) -> _Booster:  # noqa: N803 - sklearn's naming
        target = self._targets(y)
        self.n_features_in_ = int(np.shape(X)[1])
        trees = int(self.n_estimators)
        if not self.early_stopping or not self._can_stop_early(target):
            trees = trees if not self.early_stopping else min(trees, SMALL_DATA_TREES)
            self.model_ = self._fit_library(self._make(trees), X, target)
            self.best_iteration_ = self._count(self.model_, trees)
            return self
        stratify = target if self._classifier else None
        x_fit, x_valid, y_fit, y_valid = train_test_split(
            X, target, test_size=self.validation_fraction, random_state=self.random_state, stratify=stratify
        )
        probe = self._fit_library(self._make(early_stopping=True), x_fit, y_fit, (x_valid, y_valid))
        at = deadline()
        if at is not None and time.time() >= at:  # out of time: the probe is the model rather than a refit
            self.model_, self.best_iteration_ = probe, self._trees(probe)
            return self
        if self.library == "lightgbm":
            best = int(probe.best_iteration_ or probe.n_estimators)
        else:
            best = int(probe.best_iteration) + 1
        trees = max(1, round(best / (1 - self.validation_fraction)))
        self.model_ = self._fit_library(self._make(trees), X, target)
        self.best_iteration_ = self._count(self.model_, trees)
        return self


class BoosterRegressor(RegressorMixin, _Booster):
    """LightGBM or XGBoost regressor with early-stopped tree count."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict(X), dtype="float64")


class BoosterClassifier(ClassifierMixin, _Booster):
    """LightGBM or XGBoost classifier with early-stopped tree count and the original labels in ``classes_``."""

    _classifier = True

    def _targets(self, y: Any) -> np.ndarray:
        self.encoder_ = LabelEncoder().fit(np.asarray(y, dtype=object))
        self.classes_ = self.encoder_.classes_
        return np.asarray(self.encoder_.transform(np.asarray(y, dtype=object)), dtype="int64")

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "model_")
        proba = np.asarray(self.model_.predict_proba(X), dtype="float64")
        if proba.ndim == 1:
            proba = np.column_stack([1.0 - proba, proba])
        return proba

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])


class _ChunkedHGB:
    """HistGradientBoosting that stops near ``fit_deadline``: a first ``FIRST_ITERATIONS`` (never fewer, so at its
    defaults it is scikit-learn's model), then warm-started chunks sized from the seconds per iteration measured."""

    max_iter: int
    warm_start: bool
    n_iter_: int

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:  # noqa: N803 - sklearn's naming
        at = deadline()
        if at is None or self.max_iter <= FIRST_ITERATIONS:
            return super().fit(X, y, sample_weight=sample_weight)  # type: ignore[misc]
        total, warm = self.max_iter, self.warm_start
        try:
            self.max_iter, started = FIRST_ITERATIONS, time.time()
            super().fit(X, y, sample_weight=sample_weight)  # type: ignore[misc]
            while self.n_iter_ >= self.max_iter < total:  # not stopped early: more if the deadline allows
                more = int((at - time.time()) * self.n_iter_ / (time.time() - started))
                if more < MIN_MORE_ITERATIONS:
                    break
                self.max_iter, self.warm_start = min(total, self.n_iter_ + more), True
                super().fit(X, y, sample_weight=sample_weight)  # type: ignore[misc]
        finally:
            self.max_iter, self.warm_start = total, warm
        return self


class HGBRegressor(_ChunkedHGB, HistGradientBoostingRegressor):
    """scikit-learn's HistGradientBoostingRegressor, stopping near ``fit_deadline``."""


class HGBClassifier(_ChunkedHGB, HistGradientBoostingClassifier):
    """scikit-learn's HistGradientBoostingClassifier, stopping near ``fit_deadline``."""
