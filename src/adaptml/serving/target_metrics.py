"""Metrics per model for an uploaded batch that carries the target column (as PyCaret's ``predict_model`` shows).

The target is never fed to the models (the schema's coercion keeps only the feature columns); it is read here,
after prediction, and every model is scored with training's own metric functions (``training.evaluation``) on the
rows that have a usable target: missing targets are skipped and counted, and so are labels the models never saw
(classification) or text that is not a number (regression). A model's failed rows are left out of its own scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from adaptml.schema import MISSING_MARKERS, ColumnSpec, coerce_column
from adaptml.training.evaluation import all_metrics, metric_names
from adaptml.training.task import TaskInfo

__all__ = ["ModelScore", "TargetMetrics", "TargetScorer", "label_key", "score_target", "target_values"]


@dataclass(frozen=True)
class ModelScore:
    """One model's metrics on the rows it predicted (NaN where a metric is undefined, e.g. AUC with one class)."""

    name: str
    rows: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class TargetMetrics:
    """The batch's metrics per model, which metric ranks them, and the rows that could not be scored."""

    target: str
    metric: str
    higher_is_better: bool
    names: tuple[str, ...]
    scores: tuple[ModelScore, ...]
    rows: int
    skipped_missing: int = 0
    skipped_unknown: int = 0

    @property
    def ranked(self) -> list[ModelScore]:
        """The scores best first on the primary metric (undefined ones last)."""
        sign = -1.0 if self.higher_is_better else 1.0

        def key(score: ModelScore) -> tuple[bool, float]:
            value = score.metrics.get(self.metric, float("nan"))
            return (bool(np.isnan(value)), sign * value if not np.isnan(value) else 0.0)

        return sorted(self.scores, key=key)

    @property
    def skipped(self) -> int:
        return self.skipped_missing + self.skipped_unknown

    def to_dict(self) -> dict[str, Any]:
        def plain(value: float) -> float | None:
            return None if np.isnan(value) else round(float(value), 6)

        return {
            "target": self.target,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "rows_scored": self.rows,
            "rows_skipped": {"missing_target": self.skipped_missing, "unusable_target": self.skipped_unknown},
            "models": {
                score.name: {"rows": score.rows, **{k: plain(v) for k, v in score.metrics.items()}}
                for score in self.scores
            },
        }


def target_values(batch: pd.DataFrame | Sequence[Mapping[str, Any]], target: str) -> list[Any] | np.ndarray | None:
    """The batch's target values as sent (one per row), or None when it has no target column."""
    if isinstance(batch, pd.DataFrame):
        column = next((name for name in batch.columns if str(name) == target), None)
        return None if column is None else batch[column].to_numpy(dtype=object)
    if not any(target in record for record in batch):
        return None
    return [record.get(target) for record in batch]


def label_key(value: Any) -> str:
    """A class label as text, so that 1, 1.0 and "1" (JSON, CSV, the training labels) are the same class."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _truth(info: TaskInfo, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The usable targets, the mask of rows they come from, and the counts of missing and unusable ones."""
    series = pd.Series(raw, dtype=object)
    text = series.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())
    missing = text.str.lower().isin(MISSING_MARKERS).to_numpy()
    if info.task == "regression":
        numbers = coerce_column(series, ColumnSpec("target", "numeric"), strict=False).to_numpy(dtype="float64")
        usable = ~missing & np.isfinite(numbers)
        return numbers[usable], usable, int(missing.sum()), int((~missing & ~usable).sum())
    classes = {label_key(label): label for label in info.classes}
    keys = [label_key(value) for value in raw]
    usable = ~missing & np.array([key in classes for key in keys], dtype=bool)
    labels = np.array([classes[key] for key, ok in zip(keys, usable, strict=True) if ok], dtype=object)
    return labels, usable, int(missing.sum()), int((~missing & ~usable).sum())


def _class_output(info: TaskInfo, output: Any) -> np.ndarray:
    """Probabilities in the order of ``info.classes`` (one-hot of the predictions for a model without them)."""
    order = [label_key(label) for label in info.classes]
    rows = len(output.predictions)
    if output.probabilities is not None and len(output.classes) == output.probabilities.shape[1]:
        columns = {label_key(label): i for i, label in enumerate(output.classes)}
        aligned = np.zeros((rows, len(order)))
        for at, key in enumerate(order):
            if key in columns:
                aligned[:, at] = output.probabilities[:, columns[key]]
        return aligned
    predicted = [label_key(value) for value in output.predictions]
    return np.array([[1.0 if p == key else 0.0 for key in order] for p in predicted]).reshape(rows, len(order))


@dataclass
class _Kept:
    """One model's outputs on the usable rows so far, and which of them it predicted (not failed)."""

    predicted: list[np.ndarray]
    kept: list[np.ndarray]


class TargetScorer:
    """Metrics over batches that arrive one at a time (a streamed upload): each batch's usable targets and every
    model's outputs on them are kept (float64, as the whole-batch metrics use them) until ``result()`` scores them
    all as one batch: metrics such as AUC rank every row, so they cannot be summed batch by batch."""

    def __init__(self, info: TaskInfo, target: str) -> None:
        self.info, self.target = info, target
        self._truth: list[np.ndarray] = []
        self._models: dict[str, _Kept] = {}
        self._missing = self._unusable = 0

    def add(self, raw: Sequence[Any] | np.ndarray, outputs: Sequence[Any]) -> None:
        """One batch's target values as sent (one per row) and every model's outputs on it."""
        truth, usable, missing, unusable = _truth(self.info, np.asarray(raw, dtype=object))
        self._missing += missing
        self._unusable += unusable
        self._truth.append(truth)
        for output in outputs:
            ok = usable.copy()
            ok[list(output.errors)] = False  # rows this model could not predict are not its score
            if self.info.task == "regression":
                predicted = np.full(len(truth), np.nan)
                predicted[ok[usable]] = np.asarray(output.predictions[ok], dtype="float64")
            else:
                predicted = _class_output(self.info, output)[usable]
            kept = self._models.setdefault(output.name, _Kept([], []))
            kept.predicted.append(predicted)
            kept.kept.append(ok[usable])  # of the usable rows, those this model predicted

    def result(self) -> TargetMetrics:
        truth = np.concatenate(self._truth) if self._truth else np.empty(0, dtype=object)
        scores = tuple(self._score(name, truth, kept) for name, kept in self._models.items()) if len(truth) else ()
        return TargetMetrics(
            target=self.target,
            metric=self.info.metric,
            higher_is_better=self.info.higher_is_better,
            names=tuple(metric_names(self.info)),
            scores=scores,
            rows=len(truth),
            skipped_missing=self._missing,
            skipped_unknown=self._unusable,
        )

    def _score(self, name: str, truth: np.ndarray, kept: _Kept) -> ModelScore:
        chosen = np.concatenate(kept.kept)
        if not chosen.any():
            return ModelScore(name, 0, dict.fromkeys(metric_names(self.info), float("nan")))
        predicted = np.concatenate(kept.predicted)[chosen]
        return ModelScore(name, int(chosen.sum()), all_metrics(self.info, truth[chosen], predicted))


def score_target(info: TaskInfo, target: str, raw: Sequence[Any] | np.ndarray, outputs: Sequence[Any]) -> TargetMetrics:
    """Every model's metrics against the batch's own target values (``raw``, one per row, as sent)."""
    scorer = TargetScorer(info, target)
    scorer.add(raw, outputs)
    return scorer.result()
