"""Global feature importance of a fitted pipeline, measured on the held-out test split, per input column.

- Permutation (any model): shuffle one input column of the raw test rows, predict with the whole pipeline and see how
  much the primary metric worsens (positive = the model relies on the column). Bounded so training stays quick: at
  most ``MAX_ROWS`` seeded test rows, ``REPEATS`` shuffles per column and a ``TIME_LIMIT``. The first prediction
  times the model: when one pass over every column would not fit the limit, fewer rows are used (down to
  ``MIN_ROWS``); the repeats run one whole pass at a time, so a run cut short has every column measured when it can.
  Cost: 1 + repeats x columns predictions of at most 2,000 rows, stopped after ``TIME_LIMIT`` seconds.
- Gain (LightGBM and XGBoost): the total split gain of the booster, summed from its encoded features to the input
  column they came from (a one-hot level or a date part counts for its column), as a share of the whole.

Pure apart from the clock: fitted models and frames in, JSON-ready dicts out; inputs are never changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from adaptml.training.evaluation import model_output, score
from adaptml.training.task import TaskInfo

__all__ = [
    "GAIN_LIBRARIES",
    "MAX_ROWS",
    "MIN_ROWS",
    "REPEATS",
    "TIME_LIMIT",
    "gain_share",
    "held_out_importance",
    "permutation_by_column",
]

MAX_ROWS = 2_000
MIN_ROWS = 200  # a slow model is measured on fewer rows (not fewer columns), down to this many
REPEATS = 3
TIME_LIMIT = 10.0  # seconds of predicting, per version (one model)
GAIN_LIBRARIES = ("lightgbm", "xgboost")


def _worsening(info: TaskInfo, base: float, shuffled: float) -> float:
    return base - shuffled if info.higher_is_better else shuffled - base


def permutation_by_column(
    model: Any,
    frame: pd.DataFrame,
    y: pd.Series | np.ndarray,
    info: TaskInfo,
    *,
    seed: int = 0,
    max_rows: int = MAX_ROWS,
    repeats: int = REPEATS,
    time_limit: float = TIME_LIMIT,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Each input column's mean and std worsening of ``info.metric`` when shuffled, strongest first.

    Columns not measured before ``time_limit`` have ``None``; ``repeats`` says how many full passes were made.
    """
    started = clock()
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.permutation(len(frame))[:max_rows])
    x, truth = frame.iloc[rows].reset_index(drop=True), np.asarray(y, dtype=object)[rows]
    if info.task == "regression":
        truth = truth.astype("float64")
    base = score(info.metric, info, truth, model_output(model, x, info))
    columns = [str(name) for name in x.columns]
    fitting = int(len(x) * time_limit / max((clock() - started) * (len(columns) + 1), 1e-9))
    if fitting < len(x) and len(x) > MIN_ROWS:  # a slow model: fewer rows, so one pass over every column fits
        x, truth = x.iloc[: max(fitting, MIN_ROWS)], truth[: max(fitting, MIN_ROWS)]
        base = score(info.metric, info, truth, model_output(model, x, info))
    drops: dict[str, list[float]] = {name: [] for name in columns}
    passes = 0
    for _ in range(repeats):
        for name in columns:
            if clock() - started > time_limit:
                break
            shuffled = x.copy()
            shuffled[name] = x[name].iloc[rng.permutation(len(x))].set_axis(x.index)
            drops[name].append(
                _worsening(info, base, score(info.metric, info, truth, model_output(model, shuffled, info)))
            )
        else:
            passes += 1
            continue
        break
    return _ranked(drops, info, base=base, rows=len(x), passes=passes, seconds=clock() - started)


def _or_lowest(value: float | None) -> float:
    return -np.inf if value is None else value


def _ranked(drops: dict[str, list[float]], info: TaskInfo, **facts: Any) -> dict[str, Any]:
    mean = {name: float(np.nanmean(v)) if v and np.isfinite(v).any() else None for name, v in drops.items()}
    std = {name: float(np.nanstd(v)) if v and np.isfinite(v).any() else None for name, v in drops.items()}
    ranked = sorted(drops, key=lambda name: -_or_lowest(mean[name]))
    return {
        "metric": info.metric,
        "features": ranked,
        "permutation": [mean[name] for name in ranked],
        "permutation_std": [std[name] for name in ranked],
        "complete": all(len(drops[name]) for name in drops),
        **facts,
    }


def _booster_gains(inner: Any) -> tuple[list[str], np.ndarray] | None:
    """(feature names, total gain) of a fitted LightGBM or XGBoost model; None for any other model."""
    module = type(inner).__module__
    if module.startswith("lightgbm"):
        booster = inner.booster_
        return list(booster.feature_name()), np.asarray(booster.feature_importance(importance_type="gain"), float)
    if module.startswith("xgboost"):
        booster = inner.get_booster()
        names = list(booster.feature_names or [f"f{i}" for i in range(booster.num_features())])
        scores = booster.get_score(importance_type="total_gain")
        return names, np.asarray([float(scores.get(name, 0.0)) for name in names])
    return None


def _input_column(feature: str, columns: Sequence[str]) -> str | None:
    """The input column an encoded feature came from: ``one_hot__city_paris`` -> ``city``; None if unknown."""
    bare = feature.split("__", 1)[1] if "__" in feature else feature
    for text in (feature, bare, bare.removeprefix("missingindicator_")):
        matches = [name for name in columns if text == name or text.startswith(f"{name}_")]
        if matches:
            return max(matches, key=len)
    return None


def gain_share(model: Any, columns: Sequence[str]) -> dict[str, float] | None:
    """Each input column's share of a LightGBM/XGBoost pipeline's total split gain; None for other models or when
    the encoded features cannot be traced back to input columns."""
    steps = getattr(model, "steps", None)
    if not steps:
        return None
    estimator = model[-1]
    gains = _booster_gains(getattr(estimator, "model_", estimator))
    if gains is None:
        return None
    names, values = gains
    try:
        encoded = [str(name) for name in model[:-1].get_feature_names_out()]
    except Exception:  # noqa: BLE001 - an encoder without names: the booster's own names are all there is
        encoded = names
    if len(encoded) == len(values):
        names = encoded
    shares = dict.fromkeys(columns, 0.0)
    for feature, value in zip(names, values, strict=True):
        column = _input_column(feature, columns)
        if column is None:
            return None
        shares[column] += float(value)
    total = sum(shares.values())
    return {name: round(value / total, 6) for name, value in shares.items()} if total > 0 else None


def _method(result: dict[str, Any]) -> str:
    passes = result["passes"]
    return (
        f"permutation importance of {result['model']} on {result['rows']:,} held-out test rows "
        f"({passes} shuffle{'s' * (passes != 1)} per column): how much {result['metric']} worsens when the column "
        "is shuffled"
    )


def held_out_importance(
    ranked: Sequence[str],
    load: Callable[[str], Any],
    frame: pd.DataFrame,
    y: pd.Series | np.ndarray,
    info: TaskInfo,
    *,
    seed: int = 0,
    time_limit: float = TIME_LIMIT,
) -> dict[str, Any] | None:
    """Permutation importance of the best model (``ranked[0]``) and gain share of the best-ranked LightGBM/XGBoost
    model (the best itself when it is one); ``load(name)`` gives a fitted model. None without a model."""
    if not ranked:
        return None
    best = load(ranked[0])
    result = permutation_by_column(best, frame, y, info, seed=seed, time_limit=time_limit)
    result["model"] = ranked[0]
    columns = [str(name) for name in frame.columns]
    gain, gain_model = None, None
    for name in ranked:
        if name != ranked[0] and not any(library in name for library in GAIN_LIBRARIES):
            continue
        gain = gain_share(best if name == ranked[0] else load(name), columns)
        if gain is not None:
            gain_model = name
            break
    result["gain_model"] = gain_model
    result["gain_share"] = [gain.get(name) if gain else None for name in result["features"]]
    result["method"] = _method(result)
    return result
