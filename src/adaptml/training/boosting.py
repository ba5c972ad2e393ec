"""LightGBM and XGBoost as scikit-learn estimators that pick their own number of trees and keep original labels.

With ``early_stopping``, each fit holds out a slice of the rows it is given (only ever training rows), stops adding
trees when that slice stops improving, then refits on all of them with that many trees. Classifiers encode labels
to integers inside (XGBoost needs them) and expose ``classes_`` with the original labels. Every hyperparameter is a
constructor argument (``None`` leaves the library's default), so ``get_params``, ``set_params`` and ``clone`` work."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

__all__ = ["BoosterClassifier", "BoosterRegressor"]

MIN_ROWS_FOR_EARLY_STOPPING = 200
SMALL_DATA_TREES = 100


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
        extra = {"early_stopping_rounds": self.patience} if early_stopping else {}
        return cls(tree_method="hist", enable_categorical=True, **extra, **params)

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
        if not self.early_stopping:
            self.best_iteration_ = trees
            self.model_ = self._make(trees).fit(X, target)
            return self
        if not self._can_stop_early(target):
            self.best_iteration_ = min(trees, SMALL_DATA_TREES)
            self.model_ = self._make(self.best_iteration_).fit(X, target)
            return self
        stratify = target if self._classifier else None
        x_fit, x_valid, y_fit, y_valid = train_test_split(
            X, target, test_size=self.validation_fraction, random_state=self.random_state, stratify=stratify
        )
        probe = self._make(early_stopping=True)
        if self.library == "lightgbm":
            import lightgbm

            stop = lightgbm.early_stopping(self.patience, verbose=False)
            probe.fit(x_fit, y_fit, eval_X=(x_valid,), eval_y=(y_valid,), callbacks=[stop])
            best = int(probe.best_iteration_ or probe.n_estimators)
        else:
            probe.fit(x_fit, y_fit, eval_set=[(x_valid, y_valid)], verbose=False)
            best = int(probe.best_iteration) + 1
        self.best_iteration_ = max(1, round(best / (1 - self.validation_fraction)))
        self.model_ = self._make(self.best_iteration_).fit(X, target)
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
