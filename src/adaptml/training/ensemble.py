"""The automatic ensemble: a weighted average of fitted models, weights chosen on out-of-fold predictions.

Weights come from the models' out-of-fold predictions on the training split, so the test split plays no part in
choosing them: greedy forward selection with replacement (Caruana et al., 2004), and for regression also
non-negative least squares (NNLS); ``ensemble_weights`` keeps whichever blend scores better out of fold.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.pipeline import Pipeline

from adaptml.schema import Schema, SchemaCoercer
from adaptml.training.evaluation import model_output, score
from adaptml.training.steps import BLEND, COERCE, after
from adaptml.training.task import TaskInfo

__all__ = [
    "EnsembleClassifier",
    "EnsembleRegressor",
    "blend",
    "build_ensemble",
    "ensemble_objective",
    "ensemble_weights",
    "fold_scores",
    "greedy_weights",
    "nnls_weights",
]

ROUNDS = 30


def ensemble_objective(info: TaskInfo) -> str:
    """The metric the weights optimise: the primary one, or log loss when that is a thresholded label metric."""
    if info.task == "regression" or info.metric in ("roc_auc", "log_loss"):
        return info.metric
    return "log_loss"


def blend(outputs: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The weighted average of model outputs (predictions or probabilities)."""
    total = sum(weights.values())
    return sum(outputs[name] * (weight / total) for name, weight in weights.items())  # type: ignore[return-value]


def greedy_weights(
    outputs: dict[str, np.ndarray], y: pd.Series | np.ndarray, info: TaskInfo, *, rounds: int = ROUNDS
) -> dict[str, float]:
    """Forward selection with replacement: add the model that most improves the blend, ``rounds`` times."""
    metric = ensemble_objective(info)
    sign = 1.0 if metric in ("roc_auc", "r2") else -1.0
    names = sorted(outputs)
    picks: Counter[str] = Counter()
    for _ in range(rounds):
        best_name, best_value = names[0], -np.inf
        for name in names:
            trial = picks + Counter({name: 1})
            value = sign * score(metric, info, y, blend(outputs, dict(trial)))
            if not np.isnan(value) and value > best_value:
                best_name, best_value = name, value
        picks[best_name] += 1
    return {name: count / rounds for name, count in sorted(picks.items())}


def fold_scores(
    outputs: dict[str, np.ndarray],
    weights: dict[str, float],
    y: pd.Series | np.ndarray,
    info: TaskInfo,
    splits: list[Any],
) -> list[float]:
    """The blend's score on each CV fold's held-out rows, from the members' out-of-fold predictions.

    Comparable with the members' CV figures (same folds, same metric), but slightly optimistic: the weights were
    chosen on these same out-of-fold predictions.
    """
    blended = blend(outputs, weights)
    truth = np.asarray(y)
    return [score(info.metric, info, truth[held], blended[held]) for _, held in splits]


def nnls_weights(outputs: dict[str, np.ndarray], y: pd.Series | np.ndarray) -> dict[str, float]:
    """Regression weights by non-negative least squares of the target on the models' predictions, summing to 1."""
    names = sorted(outputs)
    matrix = np.column_stack([np.asarray(outputs[name], dtype="float64") for name in names])
    coefs, _ = nnls(matrix, np.asarray(y, dtype="float64"))
    total = float(coefs.sum())
    if total <= 0:
        return {}
    return {name: float(c) / total for name, c in zip(names, coefs, strict=True) if c > 0}


def ensemble_weights(
    outputs: dict[str, np.ndarray], y: pd.Series | np.ndarray, info: TaskInfo, *, rounds: int = ROUNDS
) -> dict[str, float]:
    """The better out-of-fold blend of greedy selection and (for regression) NNLS; ties go to greedy."""
    greedy = greedy_weights(outputs, y, info, rounds=rounds)
    if info.task != "regression":
        return greedy
    stacked = nnls_weights(outputs, y)
    if not stacked:
        return greedy
    metric = ensemble_objective(info)
    sign = 1.0 if metric in ("roc_auc", "r2") else -1.0
    greedy_value = sign * score(metric, info, y, blend(outputs, greedy))
    stacked_value = sign * score(metric, info, y, blend(outputs, stacked))
    return stacked if stacked_value > greedy_value else greedy


class _Ensemble(BaseEstimator):
    """Weighted average of already-fitted models (pipelines without their coercion step); ``fit`` is a no-op."""

    def __init__(self, members: list[tuple[str, Any]] | None = None, weights: dict[str, float] | None = None) -> None:
        self.members = members
        self.weights = weights

    def fit(self, X: pd.DataFrame, y: Any = None) -> _Ensemble:  # noqa: N803 - sklearn's naming
        self.n_features_in_ = X.shape[1]
        return self

    def _outputs(self, X: pd.DataFrame, info: TaskInfo) -> np.ndarray:  # noqa: N803
        members = dict(self.members or [])
        return blend({name: model_output(members[name], X, info) for name in self.weights or {}}, self.weights or {})


class EnsembleRegressor(RegressorMixin, _Ensemble):
    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return self._outputs(X, TaskInfo("regression", "rmse", False))


class EnsembleClassifier(ClassifierMixin, _Ensemble):
    def __init__(
        self,
        members: list[tuple[str, Any]] | None = None,
        weights: dict[str, float] | None = None,
        classes: tuple[Any, ...] = (),
    ) -> None:
        super().__init__(members, weights)
        self.classes = classes

    def fit(self, X: pd.DataFrame, y: Any = None) -> EnsembleClassifier:  # noqa: N803
        super().fit(X, y)
        self.classes_ = np.asarray(self.classes, dtype=object)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return self._outputs(X, TaskInfo("classification", "roc_auc", True, tuple(self.classes)))

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])


def build_ensemble(
    pipelines: dict[str, Pipeline], weights: dict[str, float], schema: Schema, info: TaskInfo, train: pd.DataFrame
) -> Pipeline:
    """A whole pipeline (coercion first) averaging the members' pipelines with ``weights``."""
    members = [(name, after(pipelines[name], COERCE)) for name in weights]
    if info.task == "regression":
        final: _Ensemble = EnsembleRegressor(members, weights)
    else:
        final = EnsembleClassifier(members, weights, tuple(info.classes))
    return Pipeline([(COERCE, SchemaCoercer(schema.to_dict())), (BLEND, final)]).fit(
        train.drop(columns=[schema.target]), train[schema.target]
    )
