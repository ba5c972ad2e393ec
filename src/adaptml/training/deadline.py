"""The deadline of the fits running now: boosters fitted inside ``fit_deadline`` stop adding trees at it and keep
the trees they have (LightGBM and XGBoost through the callbacks here, CatBoost and HistGradientBoosting their own
way). The callbacks are local objects, never pickled: the estimators drop them after fitting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["deadline", "fit_deadline", "lightgbm_deadline", "xgboost_deadline"]

_DEADLINE: ContextVar[float | None] = ContextVar("fit_deadline", default=None)


@contextmanager
def fit_deadline(at: float | None) -> Iterator[None]:
    """Boosters fitted inside stop adding trees at ``at`` (epoch seconds, ``time.time()``); None: no deadline."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def deadline() -> float | None:
    """The deadline of the fits running now (``fit_deadline``), None when there is none."""
    return _DEADLINE.get()


def xgboost_deadline(at: float) -> Any:
    """An ``xgboost.callback.TrainingCallback`` that stops at the deadline (built here: xgboost imported lazily)."""
    import xgboost

    class Stop(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return time.time() >= at

    return Stop()


def lightgbm_deadline(at: float) -> Any:
    """A LightGBM callback that stops at the deadline, keeping every tree so far."""
    import lightgbm

    def stop(env: Any) -> None:
        if time.time() >= at:
            raise lightgbm.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    stop.order = 40  # type: ignore[attr-defined]  # after early stopping's own check (order 30)
    return stop
