"""CatBoost as a scikit-learn estimator: native categoricals (ordered target statistics), early-stopped trees.

It takes what the ``native`` encoder makes (numbers as float64, categoricals as pandas categories) and hands the
categorical columns to CatBoost as text, so CatBoost's ordered target statistics encode them without leaking each
row's own target. With ``early_stopping`` a fit holds out a slice of the rows it is given (only ever training rows),
finds the best tree count on it, then refits on all of them with that count scaled up, as ``boosting`` does for
LightGBM and XGBoost. Inside ``fit_deadline`` a fit stops adding trees at the deadline and keeps the trees it has
(CatBoost has no time limit of its own: a callback checks the clock after every tree); when the early-stopping probe
runs out of time, the probe, cut back to its best tree, is the model. ``n_jobs`` becomes CatBoost's
``thread_count``. Every hyperparameter is a constructor argument, so ``get_params``, ``set_params`` and ``clone``
work; the fitted CatBoost model pickles as bytes.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from adaptml.training.boosting import MIN_ROWS_FOR_EARLY_STOPPING, SMALL_DATA_TREES
from adaptml.training.deadline import deadline, fit_deadline

__all__ = ["CatBoostClassifier", "CatBoostRegressor", "fit_deadline"]

MISSING = "__missing__"  # CatBoost takes no missing categories: they become one level of their own
_TUNED = ("learning_rate", "depth", "l2_leaf_reg", "random_strength", "one_hot_max_size", "border_count")


class _Deadline:
    """A CatBoost callback that stops adding trees once the deadline has passed; the trees so far are kept."""

    def __init__(self, at: float) -> None:
        self.at, self.hit = at, False

    def after_iteration(self, info: Any) -> bool:
        self.hit = time.time() >= self.at
        return not self.hit


class _CatBoost(BaseEstimator):
    _classifier = False

    def __init__(
        self,
        *,
        n_estimators: int = 1000,
        learning_rate: float | None = None,
        depth: int | None = None,
        l2_leaf_reg: float | None = None,
        random_strength: float | None = None,
        one_hot_max_size: int | None = None,
        border_count: int | None = None,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 50,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.random_strength = random_strength
        self.one_hot_max_size = one_hot_max_size
        self.border_count = border_count
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _make(self, trees: int, *, patience: int | None = None) -> Any:
        import catboost

        params = {name: getattr(self, name) for name in _TUNED if getattr(self, name) is not None}
        cls = catboost.CatBoostClassifier if self._classifier else catboost.CatBoostRegressor
        stop = {"early_stopping_rounds": patience} if patience else {}
        # allow_writing_files: no catboost_info folder in the working directory of a training run or a server
        return cls(
            iterations=trees,
            random_seed=self.random_state,
            thread_count=max(1, int(self.n_jobs)),
            verbose=False,
            allow_writing_files=False,
            **stop,
            **params,
        )

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803 - sklearn's naming
        """Categorical columns as text (missing as a level of its own), the rest as they are."""
        frame = pd.DataFrame(X).copy()
        for name in self.cat_features_:
            frame[name] = frame[name].astype("object").where(frame[name].notna(), MISSING).astype(str)
        return frame

    def _targets(self, y: Any) -> np.ndarray:
        return np.asarray(y, dtype="float64")

    def _can_stop_early(self, y: np.ndarray) -> bool:
        if len(y) < MIN_ROWS_FOR_EARLY_STOPPING:
            return False
        return not self._classifier or int(np.bincount(y.astype(int)).min()) >= 2

    def fit(self, X: pd.DataFrame, y: Any) -> _CatBoost:  # noqa: N803
        target = self._targets(y)
        frame = pd.DataFrame(X)
        self.n_features_in_ = frame.shape[1]
        self.cat_features_ = [str(c) for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
        data = self._frame(frame)
        at = deadline()
        stop = _Deadline(at) if at is not None else None
        callbacks = [stop] if stop else None
        trees = int(self.n_estimators)
        if self.early_stopping and self._can_stop_early(target):
            stratify = target if self._classifier else None
            x_fit, x_valid, y_fit, y_valid = train_test_split(
                data, target, test_size=self.validation_fraction, random_state=self.random_state, stratify=stratify
            )
            probe = self._make(trees, patience=self.patience)
            probe.fit(x_fit, y_fit, cat_features=self.cat_features_, eval_set=(x_valid, y_valid), callbacks=callbacks)
            if stop and stop.hit:  # out of time: keep the probe, cut back to its best tree, rather than refit
                self.model_, self.best_iteration_ = probe, int(probe.tree_count_)
                return self
            best = int(probe.get_best_iteration() or trees - 1) + 1
            trees = max(1, round(best / (1 - self.validation_fraction)))
        elif self.early_stopping:
            trees = min(trees, SMALL_DATA_TREES * 3)  # too few rows to stop on: a modest count at the chosen rate
        self.model_ = self._make(trees).fit(data, target, cat_features=self.cat_features_, callbacks=callbacks)
        self.best_iteration_ = int(self.model_.tree_count_) if stop and stop.hit else trees
        return self


class CatBoostRegressor(RegressorMixin, _CatBoost):
    """CatBoost regressor with an early-stopped tree count."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict(self._frame(X)), dtype="float64")


class CatBoostClassifier(ClassifierMixin, _CatBoost):
    """CatBoost classifier with an early-stopped tree count and the original labels in ``classes_``."""

    _classifier = True

    def _targets(self, y: Any) -> np.ndarray:
        self.encoder_ = LabelEncoder().fit(np.asarray(y, dtype=object))
        self.classes_ = self.encoder_.classes_
        return np.asarray(self.encoder_.transform(np.asarray(y, dtype=object)), dtype="int64")

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "model_")
        proba = np.asarray(self.model_.predict_proba(self._frame(X)), dtype="float64")
        if proba.ndim == 1 or proba.shape[1] == 1:  # a single class seen at fit
            return np.ones((proba.shape[0], 1))
        return proba

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])
