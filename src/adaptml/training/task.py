"""Task detection and the primary metric: what kind of problem the target poses and how to rank models on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import numpy as np
import pandas as pd

from adaptml.config import CLASSIFICATION_METRICS, REGRESSION_METRICS
from adaptml.errors import ConfigError, DataError

__all__ = [
    "HIGHER_IS_BETTER",
    "MAX_CLASSES",
    "MAX_INTEGER_CLASSES",
    "TaskInfo",
    "detect_task",
    "missing_target_message",
    "resolve_task",
    "target_labels",
]

MAX_INTEGER_CLASSES = 10
MAX_CLASSES = 100
HIGHER_IS_BETTER = {
    "rmse": False,
    "mae": False,
    "r2": True,
    "mape": False,
    "rmsle": False,
    "roc_auc": True,
    "accuracy": True,
    "balanced_accuracy": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "log_loss": False,
    "mcc": True,
}


@dataclass(frozen=True)
class TaskInfo:
    """The problem to solve: task, primary metric and its direction, and the class labels (classification)."""

    task: str
    metric: str
    higher_is_better: bool
    classes: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "classes": list(self.classes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskInfo:
        return cls(data["task"], data["metric"], bool(data["higher_is_better"]), tuple(data.get("classes", ())))


def missing_target_message(target: str, columns: Sequence[str], shown: int = 8) -> str:
    """Why ``target`` cannot be used, listing the dataset's columns closest to it first (a typo's fix leads)."""

    def closeness(column: str) -> float:
        return SequenceMatcher(None, target.lower(), column.lower()).ratio()

    ranked = sorted(columns, key=lambda column: -closeness(column))  # stable: ties keep the file's order
    listed = ", ".join(ranked[:shown]) + (f", ... ({len(ranked)} in all)" if len(ranked) > shown else "")
    return f"target column '{target}' is not in the dataset (closest columns first: {listed})"


def detect_task(target: pd.Series, configured: str = "auto") -> str:
    """classification for text targets or few distinct integers, else regression; ``configured`` wins if set."""
    numeric = pd.api.types.is_numeric_dtype(target)
    if configured == "regression" and not numeric:
        sample = str(target.dropna().iloc[0])
        raise DataError(f"task 'regression' needs a numeric target; '{target.name}' has text values like {sample!r}")
    if configured in ("regression", "classification"):
        return configured
    if not numeric:
        return "classification"
    values = target.dropna().to_numpy(dtype=float)
    integral = bool(np.all(values == np.round(values)))
    return "classification" if integral and len(np.unique(values)) <= MAX_INTEGER_CLASSES else "regression"


def target_labels(target: pd.Series, task: str) -> pd.Series:
    """The target as the estimators should see it: floats for regression, original labels for classification.

    Whole-number labels become an int64 column: scikit-learn reads an object column of numbers as an "unknown"
    label type and refuses to fit, so 0/1 targets must not be stored as Python ints in an object column.
    """
    if task == "regression":
        return target.astype("float64")
    if pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target):
        values = target.dropna().to_numpy(dtype=float)
        if np.all(values == np.round(values)):
            if not target.isna().any():
                return target.astype("int64")
            return target.map(lambda v: None if pd.isna(v) else int(v)).astype("object")
    return target.map(lambda v: v if pd.isna(v) else str(v)).astype("object")


def resolve_task(target: pd.Series, *, configured_task: str, configured_metric: str | None) -> TaskInfo:
    """Detect the task, check the metric fits it, and list the classes (sorted original labels)."""
    task = detect_task(target, configured_task)
    metric = configured_metric or ("rmse" if task == "regression" else "roc_auc")
    allowed = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    if metric not in allowed:
        raise ConfigError(f"metric '{metric}' does not fit the {task} task detected for target '{target.name}'")
    if task == "regression":
        if metric == "rmsle" and bool((target.dropna() < 0).any()):
            raise DataError(f"metric 'rmsle' needs a non-negative target; '{target.name}' has negative values")
        return TaskInfo(task, metric, HIGHER_IS_BETTER[metric])
    labels = target_labels(target, task).dropna()
    classes = tuple(sorted(labels.unique().tolist(), key=_label_key))
    if len(classes) < 2:
        raise DataError(f"target column '{target.name}' has a single class ({classes[0]!r}); nothing to learn")
    if len(classes) > MAX_CLASSES:
        raise DataError(
            f"target column '{target.name}' has {len(classes)} distinct labels, too many classes "
            f"(more than {MAX_CLASSES}); set data.task: regression if it is a quantity"
        )
    return TaskInfo(task, metric, HIGHER_IS_BETTER[metric], classes)


def _label_key(label: Any) -> tuple[int, Any]:
    return (0, label) if isinstance(label, int | float) else (1, str(label))
