"""Portfolios: for each tuned model, an ordered list of proven configurations tried in turn instead of a random search.

Zero-shot portfolios (AutoGluon's ``zeroshot`` configurations learned on TabRepo, FLAML's ``flaml.default``, the
"tuned defaults" of pytabkit) show that a few configurations chosen across hundreds of datasets, tried in order, beat
a random search of the same cost. Ours are written for this zoo's parameter names and checked on the robustness
corpus by cross-validation on training rows. The spec's defaults always come first, so a run with no time for the
portfolio trains what it trained before; each later entry overrides some defaults. A configuration is a name (it is
recorded with the model, so a run says which one won) and its parameters, optionally per task.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = ["DEFAULT_CONFIG", "PORTFOLIOS", "Candidate", "Trial", "candidates", "run_portfolio"]

DEFAULT_CONFIG = "default"
MAX_TRIALS = 12


@dataclass(frozen=True)
class Candidate:
    """One configuration: parameters over the spec's defaults, plus per-task ones over those."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    per_task: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def for_task(self, task: str) -> dict[str, Any]:
        return {**self.params, **self.per_task.get(task, {})}


@dataclass(frozen=True)
class Trial:
    """A configuration's score on the tuning holdout (``goodness``: higher is better, whatever the metric)."""

    name: str
    params: dict[str, Any]
    score: float
    goodness: tuple[float, ...]  # per fold
    seconds: float

    def beats(self, other: Trial) -> bool:
        """Better on average and on every fold: with few, small folds a mean alone is mostly noise."""
        mine, theirs = np.asarray(self.goodness), np.asarray(other.goodness)
        return bool(mine.mean() > theirs.mean() and (mine.size == 1 or (mine > theirs).all()))


_DEFAULT = Candidate(DEFAULT_CONFIG)

# pytabkit's TD defaults (tuned on a meta-train benchmark, per task), AutoGluon's extra-trees and "Large" LightGBM,
# a slow-rate configuration as the TabRepo portfolios favour, and a small-leaf one for small tables
_LIGHTGBM = (
    _DEFAULT,
    Candidate(
        "td",
        {"subsample_freq": 1},
        {
            "classification": {
                "learning_rate": 0.04,
                "num_leaves": 50,
                "min_child_samples": 40,
                "subsample": 0.75,
                "colsample_bytree": 1.0,
            },
            "regression": {
                "learning_rate": 0.05,
                "num_leaves": 100,
                "min_child_samples": 3,
                "subsample": 0.7,
                "colsample_bytree": 0.95,
            },
        },
    ),
    Candidate("xt", {"extra_trees": True, "min_child_samples": 5, "colsample_bytree": 0.9}),
    Candidate("large", {"learning_rate": 0.03, "num_leaves": 128, "colsample_bytree": 0.9, "min_child_samples": 3}),
    Candidate("small", {"num_leaves": 15, "min_child_samples": 20, "reg_lambda": 5.0, "colsample_bytree": 0.8}),
    Candidate("slow", {"learning_rate": 0.02, "num_leaves": 48, "min_child_samples": 14, "colsample_bytree": 0.7}),
)

_XGBOOST = (
    _DEFAULT,
    Candidate(
        "td",
        {"min_child_weight": 1e-5, "reg_lambda": 0.0},
        {
            "classification": {"learning_rate": 0.08, "max_depth": 6, "subsample": 0.65, "colsample_bytree": 1.0},
            "regression": {"learning_rate": 0.05, "max_depth": 9, "subsample": 0.7, "colsample_bytree": 1.0},
        },
    ),
    Candidate("shallow", {"max_depth": 3, "learning_rate": 0.1, "min_child_weight": 1.0, "colsample_bytree": 0.9}),
    Candidate("deep", {"max_depth": 10, "learning_rate": 0.02, "min_child_weight": 0.2, "colsample_bytree": 0.7}),
    Candidate("regularised", {"max_depth": 8, "min_child_weight": 10.0, "reg_lambda": 10.0, "colsample_bytree": 0.5}),
)

_HIST_GRADIENT_BOOSTING = (
    _DEFAULT,
    Candidate("slow", {"learning_rate": 0.05, "min_samples_leaf": 10}),
    Candidate("large", {"learning_rate": 0.05, "max_leaf_nodes": 127, "min_samples_leaf": 5, "l2_regularization": 0}),
    Candidate("small", {"max_leaf_nodes": 15, "min_samples_leaf": 40, "l2_regularization": 10.0}),
)

_FOREST = (
    _DEFAULT,
    Candidate("deep", {"min_samples_leaf": 1, "max_samples": 0.7}),
    Candidate("coarse", {"min_samples_leaf": 8, "max_features": 0.7}),
)

_EXTRA_TREES = (
    _DEFAULT,
    Candidate("deep", {"min_samples_leaf": 1, "max_features": 1.0}),
    Candidate("coarse", {"min_samples_leaf": 6}),
)

# pytabkit's TD CatBoost (deeper symmetric trees, almost no leaf regularisation), AutoGluon's r177, a shallow one
_CATBOOST = (
    _DEFAULT,
    Candidate(
        "td",
        {"l2_leaf_reg": 1e-5, "border_count": 254},
        {
            "classification": {"learning_rate": 0.08, "depth": 7, "random_strength": 0.8, "one_hot_max_size": 15},
            "regression": {"learning_rate": 0.09, "depth": 8, "random_strength": 0.0, "one_hot_max_size": 20},
        },
    ),
    Candidate("r177", {"depth": 6, "l2_leaf_reg": 2.1, "learning_rate": 0.069, "one_hot_max_size": 10}),
    Candidate("shallow", {"depth": 4, "learning_rate": 0.06, "l2_leaf_reg": 5.0}),
)

PORTFOLIOS: Mapping[str, tuple[Candidate, ...]] = MappingProxyType(
    {
        "lightgbm": _LIGHTGBM,
        "xgboost": _XGBOOST,
        "hist_gradient_boosting": _HIST_GRADIENT_BOOSTING,
        "random_forest": _FOREST,
        "extra_trees": _EXTRA_TREES,
        "catboost": _CATBOOST,
    }
)


def candidates(model: str) -> tuple[Candidate, ...]:
    """A model's portfolio in priority order; empty when it has none (it keeps its defaults or random search)."""
    return PORTFOLIOS.get(model, ())


def run_portfolio(
    evaluate: Callable[[dict[str, Any]], Sequence[float]],
    portfolio: Sequence[Candidate],
    *,
    task: str,
    higher_is_better: bool,
    budget_seconds: float,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[Candidate, list[Trial]]:
    """Score configurations in order until the budget is spent; a later one replaces the best so far only when it
    ``beats`` it on every fold.

    ``evaluate`` fits a configuration on the tuning folds and returns its score on each. The first configuration
    (the defaults) always runs; a later one starts only when it is expected to end within the budget, at the
    slowest trial's seconds so far (the configurations differ in depth and rate, not by orders of magnitude).
    """
    deadline = clock() + budget_seconds
    trials: list[Trial] = []
    for candidate in portfolio[:MAX_TRIALS]:
        if trials and clock() + max(t.seconds for t in trials) > deadline:
            break
        params = candidate.for_task(task)
        started = clock()
        values = np.asarray(evaluate(params), dtype="float64")
        goodness = np.nan_to_num(values if higher_is_better else -values, nan=-np.inf)
        seconds = clock() - started
        trials.append(Trial(candidate.name, params, float(values.mean()), tuple(goodness.tolist()), seconds))
    best = 0
    for index, trial in enumerate(trials[1:], start=1):
        best = index if trial.beats(trials[best]) else best
    return portfolio[best], trials
