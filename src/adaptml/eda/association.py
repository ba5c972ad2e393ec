"""How strongly columns go together: correlation ratio and Cramér's V on discretised codes, Pearson on numbers.

Every measure lies in [0, 1] and works for any pair of column kinds, because each column is first reduced to a
handful of integer codes (``profile.discretise``); that keeps the all-pairs matrix cheap on tens of thousands of rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["association_matrix", "correlation_ratio", "cramers_v", "high_pairs", "target_association"]


def cramers_v(left: np.ndarray, right: np.ndarray) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013) between two code arrays of equal length."""
    if left.size < 2:
        return 0.0
    return _v(_compact(left), _compact(right))


def _compact(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes renumbered 0..k-1 and k (done once per column, not once per pair)."""
    _, inverse = np.unique(codes, return_inverse=True)
    return inverse.ravel(), int(inverse.max()) + 1 if inverse.size else 0


def _v(left: tuple[np.ndarray, int], right: tuple[np.ndarray, int]) -> float:
    (a, rows), (b, cols) = left, right
    n = a.size
    if n < 2 or rows < 2 or cols < 2:
        return 0.0
    table = np.bincount(a * cols + b, minlength=rows * cols).reshape(rows, cols).astype("float64")
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    phi2 = float(((table - expected) ** 2 / expected).sum()) / n
    phi2_corr = max(0.0, phi2 - (rows - 1) * (cols - 1) / (n - 1))
    rows_corr = rows - (rows - 1) ** 2 / (n - 1)
    cols_corr = cols - (cols - 1) ** 2 / (n - 1)
    denominator = min(rows_corr - 1, cols_corr - 1)
    return float(np.sqrt(phi2_corr / denominator)) if denominator > 0 else 0.0


def correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """η: the share of a numeric variable's spread explained by the groups in ``codes`` (square-rooted)."""
    keep = ~np.isnan(values)
    codes, values = codes[keep], values[keep]
    if values.size < 2:
        return 0.0
    _, groups = np.unique(codes, return_inverse=True)
    counts = np.bincount(groups).astype("float64")
    means = np.bincount(groups, weights=values) / counts
    total = float(((values - values.mean()) ** 2).sum())
    between = float((counts * (means - values.mean()) ** 2).sum())
    return float(np.sqrt(between / total)) if total > 0 else 0.0


def target_association(codes: dict[str, np.ndarray], target: np.ndarray | pd.Series, *, task: str) -> dict[str, float]:
    """Each feature's association with the target, highest first: η for regression, Cramér's V for classes."""
    scores: dict[str, float] = {}
    if task == "regression":
        values = np.asarray(target, dtype="float64")
        for name, column in codes.items():
            scores[name] = correlation_ratio(column, values)
    else:
        labels = pd.Series(target).astype("object")
        known = labels.notna().to_numpy()
        label_codes = pd.factorize(labels[known])[0]
        for name, column in codes.items():
            scores[name] = cramers_v(column[known], label_codes)
    return dict(sorted(scores.items(), key=lambda item: -item[1]))


def association_matrix(codes: dict[str, np.ndarray]) -> pd.DataFrame:
    """Cramér's V between every pair of columns (diagonal 1), on their discretised codes."""
    names = list(codes)
    compact = [_compact(codes[name]) for name in names]
    matrix = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            matrix[i, j] = matrix[j, i] = _v(compact[i], compact[j])
    return pd.DataFrame(matrix, index=names, columns=names)


def high_pairs(matrix: pd.DataFrame, threshold: float, *, exclude: str | None = None) -> list[tuple[str, str, float]]:
    """Pairs of distinct columns whose absolute entry in a symmetric matrix reaches ``threshold``."""
    names = [str(n) for n in matrix.columns if n != exclude]
    values = matrix.loc[names, names].to_numpy()
    found = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if np.isfinite(values[i, j]) and abs(values[i, j]) >= threshold:
                found.append((names[i], names[j], float(values[i, j])))
    return sorted(found, key=lambda pair: -abs(pair[2]))
