"""How the corpus table judges noise: a paired bootstrap of two tools' predictions on the same held-back rows.

Every resample draws the test rows with replacement (the same draw for every tool, fixed by the seed), scores both
tools on it with the dataset's metric and keeps the difference. A pair is a **tie** when the central 95 % interval
of those differences contains 0, else a **win** or **loss** for the first tool. Paired, because the rows that are
hard for one tool are mostly hard for the other: the spread of the difference is far smaller than either score's.

Resamples are multiplicity weights over the rows, so nothing is copied, and ROC AUC is computed from per-score
weighted counts (ties get half credit, as in scikit-learn). Pure functions on numpy arrays.

Shapes: regression ``truth`` holds floats and ``output`` predictions (n,); classification ``truth`` holds class
codes 0..k-1 and ``output`` probabilities (n, k) in the same class order. Binary uses class 1 as positive; multiclass
is the mean one-vs-rest AUC over the classes that have both positives and negatives in the resample.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95
SEED = 0


def weighted_rmse(truth: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> float:
    errors = (np.asarray(truth, dtype=float) - np.asarray(predicted, dtype=float)) ** 2
    return float(np.sqrt(np.sum(weights * errors) / np.sum(weights)))


def weighted_auc(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    """ROC AUC of ``scores`` for the boolean ``positive`` with row weights; NaN when a side has no weight."""
    values, inverse = np.unique(np.asarray(scores, dtype=float), return_inverse=True)
    is_positive = np.asarray(positive, dtype=bool)
    pos = np.bincount(inverse, weights=weights * is_positive, minlength=len(values))
    neg = np.bincount(inverse, weights=weights * ~is_positive, minlength=len(values))
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos <= 0 or total_neg <= 0:
        return float("nan")
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + 0.5 * neg)) / (total_pos * total_neg))


def weighted_score(metric: str, truth: np.ndarray, output: np.ndarray, weights: np.ndarray) -> float:
    """The dataset's metric (``rmse`` or ``roc_auc``) on weighted rows."""
    if metric == "rmse":
        return weighted_rmse(truth, output, weights)
    proba = np.asarray(output, dtype=float)
    codes = np.asarray(truth)
    if proba.shape[1] == 2:
        return weighted_auc(codes == 1, proba[:, 1], weights)
    aucs = [weighted_auc(codes == k, proba[:, k], weights) for k in range(proba.shape[1])]
    present = [a for a in aucs if not np.isnan(a)]
    return float(np.mean(present)) if present else float("nan")


def resample_weights(rows: int, resamples: int = RESAMPLES, seed: int = SEED) -> Iterator[np.ndarray]:
    """How often each row is drawn, per resample: the same sequence for the same rows and seed."""
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield np.bincount(rng.integers(0, rows, rows), minlength=rows).astype(float)


def bootstrap_scores(
    metric: str, truth: np.ndarray, output: np.ndarray, *, resamples: int = RESAMPLES, seed: int = SEED
) -> np.ndarray:
    """One tool's score on every resample; two tools' arrays pair up row for row (same seed, same rows)."""
    weights = resample_weights(len(truth), resamples, seed)
    return np.array([weighted_score(metric, truth, output, w) for w in weights])


def judge(
    first: np.ndarray, second: np.ndarray, *, observed: float, higher_is_better: bool, level: float = LEVEL
) -> dict[str, Any]:
    """Win, tie or loss of the first tool from paired resampled scores; ``observed`` is first minus second on
    the whole test split. The interval is of the improvement (positive: the first tool is better)."""
    sign = 1.0 if higher_is_better else -1.0
    differences = sign * (np.asarray(first) - np.asarray(second))
    differences = differences[~np.isnan(differences)]
    tail = (1.0 - level) / 2 * 100
    low, high = (float(v) for v in np.percentile(differences, [tail, 100 - tail]))
    verdict = "tie" if low <= 0.0 <= high else ("win" if low > 0.0 else "loss")
    return {
        "verdict": verdict,
        "difference": float(observed),
        "improvement_interval": [low, high],
        "resamples": int(len(differences)),
    }


def compare(
    metric: str, truth: np.ndarray, first: np.ndarray, second: np.ndarray, *, higher_is_better: bool, **options: Any
) -> dict[str, Any]:
    """The paired bootstrap verdict of ``first`` against ``second`` (both outputs on the same rows)."""
    ones = np.ones(len(truth))
    observed = weighted_score(metric, truth, first, ones) - weighted_score(metric, truth, second, ones)
    return judge(
        bootstrap_scores(metric, truth, first, **options),
        bootstrap_scores(metric, truth, second, **options),
        observed=observed,
        higher_is_better=higher_is_better,
    )
