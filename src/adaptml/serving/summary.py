"""What a batch of predictions says at a glance: the summary shown above the results table.

Pure: a ``PredictionResult`` in, a small frozen ``ResultSummary`` out, computed on every row of the batch (the table
shows only the first rows). Per model: class counts (classification) or the distribution of the predictions
(regression). Across models: the rows where they disagree. Binary classification: the rows whose best model's
probability is close to the decision threshold (0.5: serving predicts the most probable class).

Disagreement: classifiers disagree on a row when their labels differ. Regressors disagree when the spread of their
predictions (max - min) exceeds ``REGRESSION_TOLERANCE`` times a scale: the larger of the row's mean absolute
prediction and the batch's median absolute prediction (so rows near zero are not all flagged). Models named in
``exclude`` (the dummy baseline) and failed cells are left out of the comparison.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from adaptml.serving.predict import ModelOutput, PredictionResult

__all__ = [
    "DECISION_THRESHOLD",
    "NEAR_THRESHOLD",
    "REGRESSION_TOLERANCE",
    "Distribution",
    "ModelSummary",
    "ResultSummary",
    "summarize",
]

DECISION_THRESHOLD = 0.5
NEAR_THRESHOLD = 0.1
REGRESSION_TOLERANCE = 0.1


@dataclass(frozen=True)
class Distribution:
    """A regressor's predictions over the batch."""

    minimum: float
    median: float
    mean: float
    maximum: float


@dataclass(frozen=True)
class ModelSummary:
    """One model over the batch: class counts (most frequent first) or the prediction distribution; failed cells."""

    name: str
    counts: tuple[tuple[str, int], ...] = ()
    distribution: Distribution | None = None
    failed: int = 0


@dataclass(frozen=True)
class ResultSummary:
    """The batch summary; ``disagreements`` is None with fewer than two compared models, ``near_threshold`` None
    unless the task is binary classification with probabilities."""

    task: str
    rows: int
    models: tuple[ModelSummary, ...]
    compared: tuple[str, ...]
    disagreements: int | None
    rule: str
    best: str | None = None
    positive: str | None = None
    near_threshold: int | None = None
    threshold: float = DECISION_THRESHOLD
    margin: float = NEAR_THRESHOLD


def _valid(output: ModelOutput) -> np.ndarray:
    mask = np.ones(len(output.predictions), dtype=bool)
    mask[list(output.errors)] = False
    return mask


def _model_summary(output: ModelOutput, task: str) -> ModelSummary:
    valid = _valid(output)
    values = output.predictions[valid]
    if task == "regression":
        numbers = values.astype("float64")
        numbers = numbers[np.isfinite(numbers)]
        shape = None
        if len(numbers):
            stats = (numbers.min(), np.median(numbers), numbers.mean(), numbers.max())
            shape = Distribution(*(float(value) for value in stats))
        return ModelSummary(output.name, distribution=shape, failed=len(output.errors))
    counts = Counter(str(value) for value in values)
    return ModelSummary(output.name, counts=tuple(counts.most_common()), failed=len(output.errors))


def _label_disagreements(outputs: list[ModelOutput]) -> int:
    rows = len(outputs[0].predictions)
    count = 0
    for row in range(rows):
        labels = {str(o.predictions[row]) for o in outputs if row not in o.errors}
        count += len(labels) > 1
    return count


def _spread_disagreements(outputs: list[ModelOutput], tolerance: float) -> int:
    table = np.vstack([o.predictions.astype("float64") for o in outputs])
    for index, output in enumerate(outputs):
        table[index, list(output.errors)] = np.nan
    enough = np.sum(np.isfinite(table), axis=0) >= 2
    if not enough.any():
        return 0
    table = table[:, enough]
    spread = np.nanmax(table, axis=0) - np.nanmin(table, axis=0)
    scale = np.maximum(np.nanmean(np.abs(table), axis=0), float(np.nanmedian(np.abs(table))))
    return int(np.sum(spread > tolerance * scale))


def _rule(task: str, tolerance: float) -> str:
    if task == "regression":
        return (
            f"their predictions differ by more than {tolerance:.0%} of the row's mean absolute prediction "
            "(or of the batch's median absolute prediction, if larger)"
        )
    return "their predicted labels differ"


def _near_threshold(output: ModelOutput, margin: float, threshold: float) -> int:
    assert output.probabilities is not None
    positive = output.probabilities[_valid(output), 1]
    return int(np.sum(np.abs(positive - threshold) <= margin))


def summarize(
    result: PredictionResult,
    *,
    exclude: Collection[str] = (),
    tolerance: float = REGRESSION_TOLERANCE,
    margin: float = NEAR_THRESHOLD,
) -> ResultSummary:
    """The summary of every row of ``result``; ``exclude`` names models shown but never compared (a baseline)."""
    task = result.task
    compared = [o for o in result.outputs if o.name not in exclude]
    disagreements = None
    if len(compared) >= 2:
        if task == "regression":
            disagreements = _spread_disagreements(compared, tolerance)
        else:
            disagreements = _label_disagreements(compared)
    best = compared[0] if compared else None
    binary = best is not None and best.probabilities is not None and len(best.classes) == 2
    return ResultSummary(
        task=task,
        rows=result.row_count,
        models=tuple(_model_summary(output, task) for output in result.outputs),
        compared=tuple(o.name for o in compared),
        disagreements=disagreements,
        rule=_rule(task, tolerance),
        best=best.name if best else None,
        positive=str(best.classes[1]) if binary and best else None,
        near_threshold=_near_threshold(best, margin, DECISION_THRESHOLD) if binary and best else None,
        margin=margin,
    )
