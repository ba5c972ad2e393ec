"""Held-out diagnostics of a version: the figures the ``/diagnostics`` page draws, computed once at training time.

Pure: arrays and dicts in, one JSON-ready dict out (stored as ``diagnostics.json`` in the version), so serving does
no extra work. Classification: ROC and precision-recall curves, confusion counts on a threshold grid (binary) or at
the most probable class, the F1-maximising threshold, calibration bins. Regression: a sample of predicted vs actual
and the error by decile of the target. Every task: the primary metric per model (test, CV mean and std) with a
"tied within noise" flag, cost and size, the best model's feature importance on the test split (selection's when
that was not measured), ensemble weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from adaptml.jsonable import json_safe
from adaptml.training.evaluation import score
from adaptml.training.task import TaskInfo

__all__ = [
    "FORMAT",
    "TIE_RULE",
    "calibration",
    "classification_figures",
    "compare_models",
    "diagnose",
    "downsample",
    "error_by_range",
    "threshold_counts",
]

FORMAT = 1  # bump when the shape of diagnostics.json changes
MAX_CURVE_POINTS = 200
MAX_SCATTER_POINTS = 1000
THRESHOLDS = np.round(np.linspace(0.0, 1.0, 101), 2)
CALIBRATION_BINS = 10
BOOTSTRAP_ROUNDS = 200
BOOTSTRAP_ROWS = 2000
TIE_RULE = (
    "tied with the best when a paired bootstrap of the test rows (200 resamples, the same rows for both models) "
    "puts 0 inside the 95% interval of their difference in the primary metric"
)


def _r(values: Any, digits: int = 6) -> list[Any]:
    """Floats rounded to ``digits`` significant digits: curves need no more, and the JSON stays small."""
    array = np.asarray(values, dtype="float64")
    return [float(f"{v:.{digits}g}") if np.isfinite(v) else None for v in array]


def downsample(length: int, limit: int = MAX_CURVE_POINTS) -> np.ndarray:
    """At most ``limit`` evenly spread indices of ``range(length)``, first and last always kept."""
    if length <= limit:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, limit).round().astype(int))


def threshold_counts(positive: np.ndarray, proba: np.ndarray, grid: np.ndarray = THRESHOLDS) -> dict[str, Any]:
    """Confusion counts when a row is called positive at ``proba >= t``, for every threshold ``t`` of the grid."""
    pos = np.sort(proba[positive])
    neg = np.sort(proba[~positive])
    tp = len(pos) - np.searchsorted(pos, grid, side="left")
    fp = len(neg) - np.searchsorted(neg, grid, side="left")
    return {
        "grid": [float(t) for t in grid],
        "tp": tp.tolist(),
        "fp": fp.tolist(),
        "fn": (len(pos) - tp).tolist(),
        "tn": (len(neg) - fp).tolist(),
    }


def _best_f1(positive: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    precision, recall, thresholds = skm.precision_recall_curve(positive, proba)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)[:-1]
    if not len(f1):
        return {"threshold": 0.5, "f1": None, "precision": None, "recall": None}
    best = int(np.argmax(f1))
    values = _r([thresholds[best], f1[best], precision[best], recall[best]], 4)
    return dict(zip(("threshold", "f1", "precision", "recall"), values, strict=True))


def calibration(hit: np.ndarray, confidence: np.ndarray, bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Reliability bins of equal width: mean predicted probability vs observed frequency, empty bins left out."""
    index = np.clip((confidence * bins).astype(int), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    filled = counts > 0
    mean_p = np.bincount(index, weights=confidence, minlength=bins)[filled] / counts[filled]
    observed = np.bincount(index, weights=hit.astype(float), minlength=bins)[filled] / counts[filled]
    return {"predicted": _r(mean_p, 4), "observed": _r(observed, 4), "count": counts[filled].tolist()}


def _curves(positive: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    if positive.all() or not positive.any():
        return {}  # one class only among the test rows: no curve is defined
    fpr, tpr, _ = skm.roc_curve(positive, proba)
    keep = downsample(len(fpr))
    precision, recall, _ = skm.precision_recall_curve(positive, proba)
    keep_pr = downsample(len(recall))
    return {
        "roc": {"fpr": _r(fpr[keep], 4), "tpr": _r(tpr[keep], 4), "auc": _r([skm.auc(fpr, tpr)], 4)[0]},
        "pr": {
            "recall": _r(recall[keep_pr], 4),
            "precision": _r(precision[keep_pr], 4),
            "average_precision": _r([skm.average_precision_score(positive, proba)], 4)[0],
            "prevalence": _r([positive.mean()], 4)[0],
        },
    }


def classification_figures(y: np.ndarray, proba: np.ndarray, classes: Sequence[Any]) -> dict[str, Any]:
    """One model's classification figures from its probabilities (columns in the order of ``classes``).

    Binary: curves, calibration and threshold counts for the second class (the positive one). Multiclass: curves
    micro-averaged one-vs-rest and calibration of the top class's probability; the confusion matrix at the argmax.
    """
    # class labels as text: scikit-learn reads an object array of whole numbers (a 0/1 target) as "unknown"
    labels = np.asarray([str(label) for label in classes])
    truth = np.asarray([str(value) for value in y])
    predicted = labels[np.argmax(proba, axis=1)]
    matrix = skm.confusion_matrix(truth, predicted, labels=list(labels))
    figures: dict[str, Any] = {"confusion": matrix.tolist()}
    if len(labels) == 2:
        positive, p = truth == labels[1], proba[:, 1]
        figures.update(_curves(positive, p))
        figures["thresholds"] = threshold_counts(positive, p)
        figures["best_f1"] = _best_f1(positive, p) if positive.any() and not positive.all() else None
        figures["calibration"] = calibration(positive, p)
    else:
        onehot = truth[:, None] == labels[None, :]
        figures.update(_curves(onehot.ravel(), proba.ravel()))
        figures["calibration"] = calibration(predicted == truth, proba.max(axis=1))
    return figures


def error_by_range(actual: np.ndarray, predicted: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """The error within each decile of the actual target: count, MAE, RMSE and bias (mean of predicted - actual)."""
    edges = np.unique(np.quantile(actual, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([actual.min(), actual.max()])
    index = np.clip(np.searchsorted(edges, actual, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for i in range(len(edges) - 1):
        error = predicted[index == i] - actual[index == i]
        if not len(error):
            continue
        stats = _r([edges[i], edges[i + 1], np.abs(error).mean(), np.sqrt((error**2).mean()), error.mean()], 5)
        rows.append(dict(zip(("low", "high", "mae", "rmse", "bias"), stats, strict=True)) | {"count": len(error)})
    return rows


def _regression_figures(actual: np.ndarray, predicted: np.ndarray, sample: np.ndarray) -> dict[str, Any]:
    residual = actual - predicted
    return {
        "predicted": _r(predicted[sample], 5),
        "by_range": error_by_range(actual, predicted),
        "residual_std": _r([residual.std()], 5)[0],
        "residual_mean": _r([residual.mean()], 5)[0],
    }


def _binary_auc(positive: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half): the same value as sklearn's, without its overhead."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _metric_on_rows(y: np.ndarray, info: TaskInfo) -> Any:
    """``(output, rows) -> primary metric on those rows``; numpy for the common metrics, bootstrap calls it often."""
    if info.metric in ("rmse", "mae"):
        power = 2 if info.metric == "rmse" else 1
        return lambda out, d: float(np.mean(np.abs(out[d] - y[d]) ** power) ** (1 / power))
    if info.metric == "roc_auc" and len(info.classes) == 2:
        positive = np.asarray(y == info.classes[1], dtype=bool)
        return lambda out, d: _binary_auc(positive[d], out[d, 1])
    return lambda out, d: score(info.metric, info, y[d], out[d])


def _bootstrap_ties(
    y: np.ndarray, outputs: Mapping[str, np.ndarray], info: TaskInfo, best: str, seed: int
) -> dict[str, bool]:
    """For each model, whether the paired bootstrap (``TIE_RULE``) cannot tell it from ``best``."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(y)) if len(y) <= BOOTSTRAP_ROWS else rng.choice(len(y), BOOTSTRAP_ROWS, replace=False)
    draws = [rng.choice(rows, len(rows), replace=True) for _ in range(BOOTSTRAP_ROUNDS)]
    metric = _metric_on_rows(y, info)
    best_scores = np.array([metric(outputs[best], d) for d in draws])
    tied = {}
    for name, output in outputs.items():
        if name == best:
            continue
        diff = np.array([metric(output, d) for d in draws]) - best_scores
        diff = diff[np.isfinite(diff)]
        tied[name] = bool(len(diff)) and bool(np.quantile(diff, 0.025) <= 0 <= np.quantile(diff, 0.975))
    return tied


def compare_models(
    board: Sequence[Mapping[str, Any]], y: np.ndarray, outputs: Mapping[str, np.ndarray], info: TaskInfo, seed: int = 0
) -> dict[str, Any]:
    """Per model in leaderboard order: test score, CV mean and std, cost and size, and whether tied with the best."""
    ranked = [row for row in board if str(row["model"]) in outputs]
    best = str(ranked[0]["model"]) if ranked else ""
    tied = _bootstrap_ties(y, outputs, info, best, seed) if best else {}
    rows = []
    for row in ranked:
        name = str(row["model"])
        rows.append(
            {
                "model": name,
                "test": row.get(info.metric),
                "cv_mean": row.get(f"cv_{info.metric}_mean"),
                "cv_std": row.get(f"cv_{info.metric}_std"),
                "tied_with_best": name == best or tied.get(name, False),
                "fit_seconds": row.get("fit_seconds"),
                "predict_ms_per_1000": row.get("predict_ms_per_1000"),
                "pickle_bytes": row.get("pickle_bytes"),
            }
        )
    return {
        "metric": info.metric,
        "higher_is_better": info.higher_is_better,
        "best": best,
        "tie_rule": TIE_RULE,
        "rows": rows,
    }


def _importance(selection: Mapping[str, Any] | None, held_out: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The best model's held-out importance per input column (``training.importance``) when measured, else
    selection's permutation importance and LightGBM gain share on its engineered features; strongest first."""
    dropped = list((selection or {}).get("dropped") or [])
    if held_out:
        return {"source": "held-out", **held_out, "dropped": dropped}
    if not selection or not selection.get("importance"):
        return None
    ranked = sorted(selection["importance"], key=lambda name: -float(selection["importance"][name]))
    std, gain = selection.get("importance_std") or {}, selection.get("gain_share") or {}
    return {
        "source": "selection",
        "method": selection.get("method", ""),
        "features": ranked,
        "permutation": [selection["importance"][n] for n in ranked],
        "permutation_std": [std.get(n) for n in ranked],
        "gain_share": [gain.get(n) for n in ranked],
        "dropped": dropped,
    }


def diagnose(
    y_true: pd.Series | np.ndarray,
    outputs: Mapping[str, np.ndarray],
    info: TaskInfo,
    *,
    board: Sequence[Mapping[str, Any]],
    selection: Mapping[str, Any] | None = None,
    ensemble_weights: Mapping[str, float] | None = None,
    importance: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Every figure of ``diagnostics.json`` from the models' outputs on the test split (``model_output``'s shape);
    ``importance`` is the best model's held-out importance (``training.importance.held_out_importance``)."""
    y = np.asarray(y_true, dtype="float64" if info.task == "regression" else object)
    order = [str(row["model"]) for row in board if str(row["model"]) in outputs]
    order += [name for name in outputs if name not in order]
    result: dict[str, Any] = {
        "format": FORMAT,
        **info.to_dict(),
        "test_rows": len(y),
        "models": order,
        "comparison": compare_models(board, y, outputs, info, seed),
        "importance": _importance(selection, importance),
        "ensemble_weights": dict(ensemble_weights) if ensemble_weights else None,
    }
    if info.task == "regression":
        sample = np.sort(np.random.default_rng(seed).permutation(len(y))[:MAX_SCATTER_POINTS])
        result["actual"] = _r(y[sample], 5)
        result["per_model"] = {name: _regression_figures(y, outputs[name], sample) for name in order}
    else:
        result["per_model"] = {name: classification_figures(y, outputs[name], info.classes) for name in order}
    return json_safe(result)
