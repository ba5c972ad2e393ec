"""Leakage suspects: columns that reproduce the target too well to be available at prediction time.

Three checks, each cross-validated or otherwise honest about chance:
(a) one column alone — a shallow tree on a number or date, out-of-fold group means for a category — predicts the
    target almost perfectly (R², ROC AUC or balanced accuracy >= 0.97);
(b) one level of a category or of an ordinal number (few distinct values) *is* a class: at least 100 rows, at least
    99.5% of them one class, and together a quarter or more of that class's rows (an honest rare level that happens
    to be pure, like a tiny group, is not enough);
(c) an arithmetic combination a×b, a/b, a+b or a−b of two numeric columns, drawn from the ones most correlated
    with the target, reproduces it (R² of a linear fit, or ROC AUC for two classes, > 0.99) clearly better than
    either column alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.model_selection import KFold
from sklearn.tree import DecisionTreeRegressor

from adaptml.eda.profile import CATEGORICAL, NUMERIC, as_numbers
from adaptml.eda.result import LeakageSuspect

__all__ = ["PAIR_POOL", "find_leakage"]

SINGLE_THRESHOLD = {"regression": 0.97, "binary": 0.97, "multiclass": 0.97}
ORDINAL_LEVELS = 20
LEVEL_ROWS = 100
LEVEL_PURITY = 0.995
LEVEL_COVERAGE = 0.25
PAIR_THRESHOLD = 0.99
PAIR_POOL = 12
MAX_PAIR_SUSPECTS = 5
FOLDS = 3
TREE_DEPTH = 8
METRIC = {"regression": "R²", "binary": "ROC AUC", "multiclass": "balanced accuracy"}
OPERATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "×": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "+": lambda a, b: a + b,
    "−": lambda a, b: a - b,
}


@dataclass(frozen=True)
class _Target:
    """The target as a float matrix a regression tree can fit: the value, or one indicator column per class."""

    name: str
    kind: str  # regression | binary | multiclass
    matrix: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...] = ()

    @property
    def metric(self) -> str:
        return METRIC[self.kind]


def _encode_target(values: pd.Series, name: str, task: str) -> _Target | None:
    if task == "regression":
        numbers = values.to_numpy(dtype="float64")
        return _Target(name, "regression", numbers[:, None], numbers)
    labels, uniques = pd.factorize(values.astype(str))
    classes = len(uniques)
    if classes < 2:
        return None
    kind = "binary" if classes == 2 else "multiclass"
    indicators = np.eye(classes)[labels]
    matrix = indicators[:, 1:] if kind == "binary" else indicators
    return _Target(name, kind, matrix, labels, tuple(str(u) for u in uniques))


def _auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC from ranks (ties averaged); 0.5 when only one class is present."""
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _score(target: _Target, predicted: np.ndarray) -> float:
    """R² for a number, ROC AUC for two classes, balanced accuracy for more."""
    if target.kind == "regression":
        return float(r2_score(target.labels, predicted[:, 0]))
    if target.kind == "binary":
        return _auc(target.labels == 1, predicted[:, 0])
    return float(balanced_accuracy_score(target.labels, predicted.argmax(axis=1)))


def _oof_tree(x: np.ndarray, target: _Target, folds: list[tuple[np.ndarray, np.ndarray]], seed: int) -> np.ndarray:
    predicted = np.zeros_like(target.matrix)
    for train, test in folds:
        tree = DecisionTreeRegressor(max_depth=TREE_DEPTH, min_samples_leaf=5, random_state=seed)
        tree.fit(x[train, None], target.matrix[train])
        predicted[test] = tree.predict(x[test, None]).reshape(len(test), -1)
    return predicted


def _oof_group_means(codes: np.ndarray, target: _Target, folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Each row predicted by the mean target of its group in the other folds (the overall mean if unseen)."""
    predicted = np.zeros_like(target.matrix)
    size = int(codes.max()) + 1
    for train, test in folds:
        counts = np.bincount(codes[train], minlength=size).astype("float64")
        for k in range(target.matrix.shape[1]):
            sums = np.bincount(codes[train], weights=target.matrix[train, k], minlength=size)
            fallback = target.matrix[train, k].mean()
            means = np.divide(sums, counts, out=np.full(size, fallback), where=counts > 0)
            predicted[test, k] = means[codes[test]]
    return predicted


def _single_scores(frame: pd.DataFrame, kinds: dict[str, str], target: _Target, seed: int) -> dict[str, float]:
    """Cross-validated score of each feature used alone."""
    folds = list(KFold(FOLDS, shuffle=True, random_state=seed).split(frame))
    scores: dict[str, float] = {}
    for name, kind in kinds.items():
        series = frame[name]
        if series.nunique() < 2:
            continue
        if kind == CATEGORICAL:
            codes = pd.factorize(series.astype("object"), use_na_sentinel=False)[0]
            scores[name] = _score(target, _oof_group_means(np.asarray(codes), target, folds))
        else:
            scores[name] = _score(target, _oof_tree(as_numbers(series, kind), target, folds, seed))
    return scores


def _single_evidence(name: str, kind: str, score: float, target: _Target, series: pd.Series) -> str:
    rows = f"on {len(series):,} rows"
    if kind == CATEGORICAL:
        return (
            f"the {series.nunique():,} groups of {name} determine {target.name}: out-of-fold group means give "
            f"{target.metric} = {score:.4f} ({FOLDS}-fold) {rows}"
        )
    return (
        f"{name} alone predicts {target.name}: cross-validated {target.metric} = {score:.4f} "
        f"({FOLDS}-fold, depth-{TREE_DEPTH} tree) {rows}"
    )


def _pure_level(name: str, series: pd.Series, target: _Target) -> LeakageSuspect | None:
    """The level of ``name`` that is (almost) only one class and holds a large share of that class, if any."""
    codes, levels = pd.factorize(series, use_na_sentinel=True)
    known = codes >= 0
    n_classes = len(target.classes)
    table = np.bincount(codes[known] * n_classes + target.labels[known], minlength=len(levels) * n_classes)
    table = table.reshape(len(levels), n_classes)
    class_rows = np.bincount(target.labels, minlength=n_classes)
    rows, best = table.sum(axis=1), table.argmax(axis=1)
    hits = table[np.arange(len(levels)), best]
    coverage = hits / np.maximum(class_rows[best], 1)
    leaking = (rows >= LEVEL_ROWS) & (hits >= LEVEL_PURITY * rows) & (coverage >= LEVEL_COVERAGE)
    if not leaking.any():
        return None
    level = int(np.argmax(np.where(leaking, coverage, -1.0)))
    label = target.classes[best[level]]
    evidence = (
        f"the level {_shown(levels[level])} of {name} is {target.name} = {label!r} in {hits[level]:,} of its "
        f"{rows[level]:,} rows, {coverage[level]:.0%} of all {label!r} rows: that level is the outcome"
    )
    return LeakageSuspect((name,), evidence, round(float(hits[level] / rows[level]), 6))


def _shown(level: object) -> str:
    return repr(int(level)) if isinstance(level, float) and level == round(level) else repr(level)


def _level_suspects(frame: pd.DataFrame, kinds: dict[str, str], target: _Target) -> list[LeakageSuspect]:
    """Pure-level suspects among categories and ordinal numbers (at most ORDINAL_LEVELS distinct values)."""
    found = []
    for name, kind in kinds.items():
        series = frame[name]
        ordinal = kind == NUMERIC and series.nunique() <= ORDINAL_LEVELS
        if kind == CATEGORICAL or ordinal:
            suspect = _pure_level(name, series.astype("object") if kind == CATEGORICAL else series, target)
            found += [suspect] if suspect else []
    return found


def _pair_pool(frame: pd.DataFrame, names: list[str], target: _Target) -> list[str]:
    """The numeric columns most correlated (Pearson or Spearman, absolute) with the target."""
    y = pd.Series(target.matrix[:, 0], index=frame.index)
    numbers = frame[names].astype("float64")
    pearson = numbers.corrwith(y).abs().fillna(0.0)
    spearman = numbers.rank().corrwith(y.rank()).abs().fillna(0.0)
    strength = pd.concat([pearson, spearman], axis=1).max(axis=1).sort_values(ascending=False)
    return [str(n) for n in strength.index[:PAIR_POOL]]


def _fit_score(combo: np.ndarray, target: _Target) -> tuple[float, int]:
    """How well one combined column reproduces the target (linear R² or ROC AUC), and on how many rows."""
    keep = np.isfinite(combo) & np.isfinite(target.matrix[:, 0])
    n = int(keep.sum())
    if n < max(30, keep.size // 2) or np.ptp(combo[keep]) == 0:
        return 0.0, n
    if target.kind == "regression":
        r = np.corrcoef(combo[keep], target.labels[keep])[0, 1]
        return (float(r * r) if np.isfinite(r) else 0.0), n
    auc = _auc(target.labels[keep] == 1, combo[keep])
    return max(auc, 1.0 - auc), n


@dataclass(frozen=True)
class _Combination:
    """One arithmetic combination of two columns and how well it reproduces the target."""

    left: str
    op: str
    right: str
    values: np.ndarray
    score: float
    rows: int


def _pair_evidence(best: _Combination, target: _Target) -> str:
    """The combination in words, with the linear rescaling spelled out when it is not the identity."""
    expression = f"{best.left} {best.op} {best.right}"
    if target.kind != "regression":
        return f"{expression} separates {target.name}: ROC AUC = {best.score:.4f} on {best.rows:,} rows"
    keep = np.isfinite(best.values) & np.isfinite(target.labels)
    slope, intercept = np.polyfit(best.values[keep], target.labels[keep], 1)
    spread = float(np.std(target.labels[keep])) or 1.0
    if abs(slope - 1) > 0.01 or abs(intercept) > 0.01 * spread:
        expression = f"{slope:.4g} × ({expression}) {'+' if intercept >= 0 else '−'} {abs(intercept):.4g}"
    return f"{target.name} ≈ {expression}, R² = {best.score:.4f} on {best.rows:,} rows"


def _best_combination(a: str, b: str, values: dict[str, np.ndarray], target: _Target) -> _Combination:
    """The operation on columns a and b (both orders for division) that best reproduces the target."""
    best = _Combination(a, "×", b, np.empty(0), 0.0, 0)
    for op, left, right in [(op, a, b) for op in OPERATIONS] + [("/", b, a)]:
        with np.errstate(all="ignore"):
            combined = OPERATIONS[op](values[left], values[right])
        score, rows = _fit_score(combined, target)
        if score > best.score:
            best = _Combination(left, op, right, combined, score, rows)
    return best


def _pair_suspects(
    frame: pd.DataFrame, pool: list[str], target: _Target, singles: dict[str, float]
) -> list[LeakageSuspect]:
    """Pairs whose best combination passes the threshold and halves what either column alone leaves unexplained."""
    values = {name: frame[name].to_numpy(dtype="float64", na_value=np.nan) for name in pool}
    alone = {name: max(_fit_score(values[name], target)[0], singles.get(name, 0.0)) for name in pool}
    found = []
    for a, b in itertools.combinations(pool, 2):
        best = _best_combination(a, b, values, target)
        if best.score > PAIR_THRESHOLD and (1 - best.score) < 0.5 * (1 - max(alone[a], alone[b])):
            evidence = _pair_evidence(best, target)
            found.append(LeakageSuspect((best.left, best.right), evidence, round(best.score, 6)))
    return sorted(found, key=lambda s: -s.score)[:MAX_PAIR_SUSPECTS]


def find_leakage(
    frame: pd.DataFrame, kinds: dict[str, str], *, target: str, task: str, seed: int = 0
) -> tuple[tuple[LeakageSuspect, ...], dict[str, float]]:
    """Leakage suspects, strongest first, and every feature's single-column score (for the report)."""
    known = frame[frame[target].notna()]
    encoded = _encode_target(known[target], target, task)
    if encoded is None or len(known) < 3 * FOLDS:
        return (), {}
    features = {name: kind for name, kind in kinds.items() if name != target}
    singles = _single_scores(known, features, encoded, seed)
    threshold = SINGLE_THRESHOLD[encoded.kind]
    suspects = [
        LeakageSuspect((name,), _single_evidence(name, features[name], s, encoded, known[name]), round(s, 6))
        for name, s in singles.items()
        if s >= threshold
    ]
    if encoded.kind != "regression":
        single = {s.columns[0] for s in suspects}
        suspects += _level_suspects(known, {n: k for n, k in features.items() if n not in single}, encoded)
    if encoded.kind != "multiclass":
        flagged = {s.columns[0] for s in suspects}
        numeric = [n for n, k in features.items() if k == NUMERIC and n not in flagged and known[n].nunique() > 1]
        suspects += _pair_suspects(known, _pair_pool(known, numeric, encoded), encoded, singles)
    return tuple(sorted(suspects, key=lambda s: -s.score)), singles
