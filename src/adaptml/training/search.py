"""Choosing a model's parameters on the training split: its proven configurations in order (``portfolio``), or a
seeded random search of its space, each scored by ``Holdout`` (3-fold CV on small tables, else a 20 % holdout).

Only rows of the training split are used: the test split that ranks the models is never seen here. ``cv_splits``
are the folds every model cross-validates in (``fitting``) and small tables compare configurations in.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from adaptml.training.evaluation import model_output, score
from adaptml.training.portfolio import DEFAULT_CONFIG, candidates, run_portfolio
from adaptml.training.task import TaskInfo

__all__ = ["CV_TUNING_MAX_ROWS", "Holdout", "cv_splits", "try_portfolio", "tune"]

CV_TUNING_MAX_ROWS = 2_000  # below this many training rows, configurations are compared by 3-fold CV


def cv_splits(y: pd.Series, info: TaskInfo, *, folds: int, seed: int, shuffle: bool = True) -> list[Any]:
    """k folds of the training split: stratified for classification when every class can fill each fold."""
    folds = max(2, min(folds, len(y) // 2))
    if info.task == "classification" and int(y.value_counts().min()) >= folds:
        return list(StratifiedKFold(folds, shuffle=shuffle, random_state=seed if shuffle else None).split(y, y))
    return list(KFold(folds, shuffle=shuffle, random_state=seed if shuffle else None).split(y))


class Holdout:
    """Scores one set of parameters on the training split: 3-fold CV on small tables, where one 20 % holdout is
    too noisy to tell configurations apart, else a 20 % holdout (stratified when it can be)."""

    def __init__(
        self,
        tail_for: Callable[[dict[str, Any]], Pipeline],
        base: pd.DataFrame,
        y: pd.Series,
        info: TaskInfo,
        *,
        seed: int,
        shuffle: bool = True,
    ) -> None:
        self.tail_for, self.base, self.y, self.info, self.seed, self.shuffle = tail_for, base, y, info, seed, shuffle

    @cached_property
    def parts(self) -> list[Any]:
        """Split on first use: a model that is not tuned never splits."""
        y = self.y
        if len(y) < CV_TUNING_MAX_ROWS:
            return cv_splits(y, self.info, folds=3, seed=self.seed, shuffle=self.shuffle)
        stratify = y if self.info.task == "classification" and int(y.value_counts().min()) >= 2 else None
        rows = np.arange(len(y))
        return [train_test_split(rows, test_size=0.2, random_state=self.seed, stratify=stratify)]

    def fold_scores(self, params: dict[str, Any]) -> list[float]:
        values = []
        for fit_rows, held_rows in self.parts:
            tail = self.tail_for(params).fit(self.base.iloc[fit_rows], self.y.iloc[fit_rows])
            held = model_output(tail, self.base.iloc[held_rows], self.info)
            values.append(score(self.info.metric, self.info, self.y.iloc[held_rows], held))
        return values

    def score(self, params: dict[str, Any]) -> float:
        return float(np.mean(self.fold_scores(params)))


def try_portfolio(
    name: str, holdout: Holdout, info: TaskInfo, *, budget_seconds: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's portfolio in priority order on the holdout, while the budget lasts; without one, the defaults."""
    if budget_seconds <= 0:
        return {}, {"config": DEFAULT_CONFIG, "trials": 0}
    winner, trials = run_portfolio(
        holdout.fold_scores,
        candidates(name),
        task=info.task,
        higher_is_better=info.higher_is_better,
        budget_seconds=budget_seconds,
    )
    tried = {t.name: round(float(t.score), 6) for t in trials}
    best = next(t for t in trials if t.name == winner.name)
    seconds = round(budget_seconds, 2) if np.isfinite(budget_seconds) else None  # None: unbounded
    facts = {"config": winner.name, "trials": len(trials), "scores": tried, "budget_seconds": seconds}
    return dict(best.params), {**facts, "best_score": best.score}


def tune(
    holdout: Holdout, space: dict[str, list[Any]], *, seed: int, budget_seconds: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Seeded random search on a holdout of the training split, until the time budget runs out."""
    if budget_seconds <= 0 or not space:
        return {}, {}
    rng = random.Random(seed)
    deadline = time.perf_counter() + budget_seconds
    trials: list[dict[str, Any]] = []
    candidate: dict[str, Any] = {}  # the defaults go first, so tuning never does worse on the holdout
    while time.perf_counter() < deadline and len(trials) < 50:
        value = holdout.score(candidate)
        goodness = value if holdout.info.higher_is_better else -value
        trials.append({"params": candidate, "score": value, "goodness": -np.inf if np.isnan(goodness) else goodness})
        candidate = {key: rng.choice(values) for key, values in space.items()}
    best = max(trials, key=lambda t: t["goodness"])
    config = DEFAULT_CONFIG if not best["params"] else "random"
    facts = {"trials": len(trials), "best_score": best["score"], "budget_seconds": budget_seconds}
    return dict(best["params"]), {**facts, "config": config}
