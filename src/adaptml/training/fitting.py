"""Fitting one zoo model on the training split: optional tuning, k-fold CV with out-of-fold predictions, final fit.

Only the training split ever reaches this module; CV folds, tuning holdouts and early-stopping slices are all
carved out of it. The pipeline's stateless head (the steps before ``encode``) is applied once and the fitted head
and tail are joined into the whole pipeline that gets pickled. What each model is comes from its ``zoo`` spec.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from adaptml.schema import Schema, SchemaCoercer
from adaptml.training.budget import FINAL_FIT_SHARE, affordable_folds, planned_folds
from adaptml.training.contention import is_busy
from adaptml.training.deadline import fit_deadline
from adaptml.training.evaluation import model_output, score
from adaptml.training.features import ColumnSelector, FeaturePlan, derive_step, make_encoder
from adaptml.training.portfolio import DEFAULT_CONFIG, candidates
from adaptml.training.search import Holdout, cv_splits, try_portfolio, tune
from adaptml.training.steps import COERCE, DATES, ENCODE, MODEL, SELECT, split_before
from adaptml.training.task import TaskInfo
from adaptml.training.zoo import BASELINE, spec

__all__ = ["PARALLEL_MIN_ROWS", "FitResult", "build_pipeline", "cv_splits", "fit_model", "refit_model", "threads_for"]

# below this many rows a fit is milliseconds of work per tree: OpenMP threads cost more in synchronisation than they
# save, and on a loaded machine far more (a 116-row HistGradientBoosting took 11 s with 2 threads, under load ~30)
PARALLEL_MIN_ROWS = 10_000
REFIT_ROOM = 1.25  # a refit fits (train + test) / train rows: 1.25 with the default 20 % test split
# the baseline ignores its features: the steps before its model are fitted on this many rows only (they must be
# fitted for the published pipeline to predict); the whole feature pipeline, fitted six times, took 11 s of a 60 s
# budget on flights' 262k training rows
BASELINE_SAMPLE_ROWS = 1_000


def threads_for(n_jobs: int, rows: int, *, competing: float | None = None) -> int:
    """The threads worth using on ``rows`` rows: one on small tables or a busy machine, ``n_jobs`` otherwise.

    Busy is CPU demand of other processes this one competes with (``competing`` cores' worth, by default measured:
    ``training.contention``; niced background work does not count against a nice-0 run) leaving fewer than
    ``n_jobs`` cores: OpenMP boosters synchronise threads at every tree node, and a descheduled thread stalls every
    barrier. Measured on 2 cores at load 7: a default HistGradientBoosting on seattle_pets' 33,610 rows took 21.2 s
    with 2 threads, 1.9 s with 1.
    """
    if n_jobs <= 1 or rows < PARALLEL_MIN_ROWS:
        return 1
    return 1 if is_busy(n_jobs, competing=competing) else n_jobs


@dataclass(frozen=True)
class FitResult:
    """A model fitted on the whole training split, with its CV scores and out-of-fold predictions."""

    name: str
    pipeline: Pipeline
    params: dict[str, Any]
    cv_scores: tuple[float, ...]
    oof: np.ndarray
    fit_seconds: float
    tuning: dict[str, Any] = field(default_factory=dict)
    frozen: dict[str, Any] = field(default_factory=dict)  # ``params`` plus the early-stopped count: how to refit
    tuning_seconds: float = 0.0
    config: str = DEFAULT_CONFIG  # the portfolio configuration that won ("random" after a random search)
    head: Pipeline | None = None  # the stateless steps before ``encode``, fitted once
    bag: tuple[Pipeline, ...] = ()  # the CV folds' fitted tails: the models behind ``oof``


def build_pipeline(
    name: str,
    *,
    schema: Schema,
    plan: FeaturePlan,
    info: TaskInfo,
    seed: int,
    n_jobs: int = 1,
    params: dict[str, Any] | None = None,
) -> Pipeline:
    """An unfitted whole pipeline: raw records in, predictions out."""
    model = spec(name)
    return Pipeline(
        [
            (COERCE, SchemaCoercer(schema.to_dict())),
            (DATES, derive_step(plan, seed=seed)),
            (SELECT, ColumnSelector(tuple(plan.features))),
            (ENCODE, make_encoder(model.family, plan, task=info.task, seed=seed)),
            (MODEL, model.estimator(info.task, seed=seed, n_jobs=n_jobs, params=params)),
        ]
    )


def fit_model(
    name: str,
    train: pd.DataFrame,
    *,
    schema: Schema,
    plan: FeaturePlan,
    info: TaskInfo,
    seed: int,
    cv_folds: int = 5,
    n_jobs: int = 1,
    budget_seconds: float = 0.0,
    shuffle: bool = True,
    strategy: str = "portfolio",
    seconds_left: float = float("inf"),
) -> FitResult:
    """Tune (within the budget), cross-validate and fit one model on the training split.

    The folds are as many of ``cv_folds`` (fewer on a large table: ``budget.planned_folds``) as fit in what remains
    of ``seconds_left`` after the final fit. The boosters stop adding trees at a deadline (``deadline.fit_deadline``):
    tuning and the final fit at ``FINAL_FIT_SHARE`` of ``seconds_left``, leaving room for two folds and the refit,
    the folds at its end; so one slow model cannot overrun the run.
    ``strategy`` "portfolio" tries the model's proven configurations in order (a model without one searches its
    space at random, within a finite budget only); "random" searches its space at random.
    """
    deadline = time.perf_counter() + seconds_left
    n_jobs = threads_for(n_jobs, len(train))
    y = train[schema.target]
    model = spec(name)
    if name == BASELINE:
        whole = build_pipeline(name, schema=schema, plan=plan, info=info, seed=seed)
        return _fit_baseline(whole, train, y, info, folds=cv_folds, seed=seed, shuffle=shuffle)

    sized = model.sized(len(train))  # the table's size's parameters, under what tuning chooses

    def tail_for(params: dict[str, Any]) -> Pipeline:
        chosen = {**sized, **params}
        whole = build_pipeline(name, schema=schema, plan=plan, info=info, seed=seed, n_jobs=n_jobs, params=chosen)
        return split_before(whole, ENCODE)[1]

    bounded = np.isfinite(seconds_left)
    stop_at = time.time() + seconds_left if bounded else None
    final_stop = time.time() + max(0.0, seconds_left) * FINAL_FIT_SHARE if bounded else None
    with threadpool_limits(n_jobs):
        head = split_before(build_pipeline(name, schema=schema, plan=plan, info=info, seed=seed), ENCODE)[0]
        started = time.perf_counter()
        base = head.fit(train).transform(train)
        head_seconds = time.perf_counter() - started  # a refit pays it again: seconds on a large table
        started = time.perf_counter()
        with fit_deadline(final_stop):  # tuning and the final fit leave room for the folds and the refit
            holdout = Holdout(tail_for, base, y, info, seed=seed, shuffle=shuffle)
            if strategy == "portfolio" and candidates(name):
                params, tuning = try_portfolio(name, holdout, info, budget_seconds=budget_seconds)
            else:  # an unbounded share is the portfolio's: a model without one keeps its defaults then
                seconds = budget_seconds if np.isfinite(budget_seconds) else 0.0
                params, tuning = tune(holdout, model.search_space(info.task), seed=seed, budget_seconds=seconds)
            tuning_seconds = time.perf_counter() - started
            tail = tail_for(params)
            started = time.perf_counter()
            tail.fit(base, y)
            fit_seconds = time.perf_counter() - started
        # the folds reuse the tree count early stopping chose on the final fit: one search, not k+1
        frozen = model.refit_params({**sized, **params}, tail.named_steps[MODEL])
        # keep room for this model's own refit on train + test (a fifth more rows), so a slow first model on a
        # big table spends a fold less rather than publishing without the refit
        left = deadline - time.perf_counter() - REFIT_ROOM * (head_seconds + fit_seconds)
        folds = affordable_folds(planned_folds(cv_folds, len(y)), fit_seconds=fit_seconds, seconds_left=left)
        splits = cv_splits(y, info, folds=folds, seed=seed, shuffle=shuffle)
        with fit_deadline(stop_at):  # a hard stop for the boosters that take one
            scores, oof, bag = _cross_validate(tail_for(frozen), base, y, info, splits)
    whole = Pipeline([*head.steps, *tail.steps])
    config = str(tuning.get("config", DEFAULT_CONFIG))
    whole_seconds = head_seconds + fit_seconds  # the whole pipeline's fit, as the refit will take it
    result = FitResult(name, whole, params, tuple(scores), oof, whole_seconds, tuning, frozen, tuning_seconds, config)
    return replace(result, head=head, bag=tuple(bag))


def refit_model(
    name: str,
    rows: pd.DataFrame,
    *,
    schema: Schema,
    plan: FeaturePlan,
    info: TaskInfo,
    seed: int,
    frozen: dict[str, Any],
    ratio: float,
    n_jobs: int = 1,
) -> Pipeline:
    """The model refit on ``rows`` (train + test) with the hyperparameters it was chosen with.

    ``frozen`` is what ``fit_model`` chose (``FitResult.frozen``); an early-stopped iteration count is scaled by
    ``ratio`` (rows now / rows then), since more rows support proportionally more iterations at the same rate.
    """
    params = spec(name).scaled_params(frozen, ratio)
    n_jobs = threads_for(n_jobs, len(rows))
    pipeline = build_pipeline(name, schema=schema, plan=plan, info=info, seed=seed, n_jobs=n_jobs, params=params)
    with threadpool_limits(n_jobs):
        return pipeline.fit(rows, rows[schema.target])


def _fit_baseline(
    whole: Pipeline, train: pd.DataFrame, y: pd.Series, info: TaskInfo, *, folds: int, seed: int, shuffle: bool
) -> FitResult:
    """The prior/mean baseline at next to no cost on any table: its features are fitted on a sample only and its
    model on the target alone; its folds need no features either (each predicts its training folds' prior/mean)."""
    started = time.perf_counter()
    whole[:-1].fit(train.iloc[:BASELINE_SAMPLE_ROWS])
    blank = pd.DataFrame(np.zeros((len(y), 1)), index=y.index)
    model = whole.steps[-1][1].fit(blank, y)
    fit_seconds = time.perf_counter() - started
    splits = cv_splits(y, info, folds=folds, seed=seed, shuffle=shuffle)
    scores, oof, _ = _cross_validate(Pipeline([(MODEL, clone(model))]), blank, y, info, splits)
    head = split_before(whole, ENCODE)[0]
    return FitResult(BASELINE, whole, {}, tuple(scores), oof, fit_seconds, head=head)


def _cross_validate(
    tail: Pipeline, base: pd.DataFrame, y: pd.Series, info: TaskInfo, splits: list[Any]
) -> tuple[list[float], np.ndarray, list[Pipeline]]:
    width = len(info.classes)
    oof = np.zeros((len(y), width)) if width else np.zeros(len(y))
    scores, models = [], []
    for fit_rows, held_rows in splits:
        model = clone(tail).fit(base.iloc[fit_rows], y.iloc[fit_rows])
        models.append(model)
        output = model_output(model, base.iloc[held_rows], info)
        oof[held_rows] = output
        scores.append(score(info.metric, info, y.iloc[held_rows], output))
    return scores, oof, models
