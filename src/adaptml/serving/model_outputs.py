"""One model's answers for a batch, and the pipeline of record predicting it: a model that fails on some rows only
loses those rows (the batch is bisected to find them); partitions' outputs are concatenated back in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_ATTEMPTS", "ModelOutput", "combine_outputs", "predict_model"]

MAX_ATTEMPTS = 64  # bisection budget per model and batch; beyond it the remaining failing chunks are marked


@dataclass(frozen=True)
class ModelOutput:
    """One model's answers for a batch: a prediction per row (None where it failed) and per-row errors."""

    name: str
    predictions: np.ndarray = field(repr=False)
    probabilities: np.ndarray | None = field(default=None, repr=False)
    classes: tuple[Any, ...] = ()
    errors: dict[int, str] = field(default_factory=dict)


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return message if len(message) <= 200 else message[:197] + "..."


def _attempt(model: Any, frame: pd.DataFrame, with_proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
    predicted = np.asarray(model.predict(frame))
    if predicted.shape[0] != len(frame):
        raise ValueError(f"returned {predicted.shape[0]} predictions for {len(frame)} rows")
    proba = np.asarray(model.predict_proba(frame), dtype="float64") if with_proba else None
    return predicted.reshape(len(frame), -1)[:, 0] if predicted.ndim > 1 else predicted, proba


def predict_model(name: str, model: Any, frame: pd.DataFrame, *, max_attempts: int = MAX_ATTEMPTS) -> ModelOutput:
    """Predict a batch with one model; on failure bisect to find the failing rows and keep the rest."""
    rows = len(frame)
    with_proba = hasattr(model, "predict_proba") and hasattr(model, "classes_")
    classes = tuple(np.asarray(model.classes_).tolist()) if with_proba else ()
    predictions = np.full(rows, None, dtype=object)
    probabilities = np.full((rows, len(classes)), np.nan) if with_proba else None
    errors: dict[int, str] = {}
    pending, attempts, last_error = [(0, rows)], 0, ""
    while pending:
        start, stop = pending.pop()
        if attempts >= max_attempts:  # too many failures to isolate: the rest of this chunk shares the last error
            errors.update(dict.fromkeys(range(start, stop), last_error))
            continue
        attempts += 1
        try:
            whole = start == 0 and stop == rows  # the frame itself, so models share work done on it
            predicted, proba = _attempt(model, frame if whole else frame.iloc[start:stop], with_proba)
        except Exception as error:  # noqa: BLE001 - a model's failure is reported in its cells, never raised
            last_error = _describe(error)
            if stop - start == 1:
                errors[start] = last_error
            else:
                middle = (start + stop) // 2
                pending += [(middle, stop), (start, middle)]
            continue
        predictions[start:stop] = predicted
        if probabilities is not None and proba is not None:
            probabilities[start:stop] = proba
    return ModelOutput(name, predictions, probabilities, classes, dict(sorted(errors.items())))


def combine_outputs(parts: Sequence[ModelOutput], sizes: Sequence[int]) -> ModelOutput:
    """Concatenate one model's outputs for consecutive partitions, renumbering their row errors."""
    errors: dict[int, str] = {}
    offset = 0
    for part, size in zip(parts, sizes, strict=True):
        errors.update({row + offset: message for row, message in part.errors.items()})
        offset += size
    probabilities = None
    if parts[0].probabilities is not None:
        probabilities = np.concatenate([p.probabilities for p in parts if p.probabilities is not None])
    predictions = np.concatenate([p.predictions for p in parts])
    return ModelOutput(parts[0].name, predictions, probabilities, parts[0].classes, errors)
