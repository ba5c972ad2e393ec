"""Real zoo pipelines (training's own build/fit code) on samples of the bundled datasets, as publishable files.

Small samples keep fitting to seconds; every model family of the zoo and the ensemble are included, so the fast
paths are gated against exactly what training publishes.
"""

from __future__ import annotations

import pickle
from copy import deepcopy
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from adaptml.config import SplitConfig
from adaptml.datasets import read_bundled
from adaptml.schema import Schema, infer_schema
from adaptml.serving.compiled import GATE_FILE
from adaptml.training import clean, fit_model, plan_features, resolve_task, split, target_labels
from adaptml.training.ensemble import build_ensemble, greedy_weights

ZOO = ("dummy", "ridge", "random_forest", "extra_trees", "hist_gradient_boosting", "lightgbm", "xgboost")
TARGETS = {"adult": "income", "hotel_rates": "avg_price_per_room"}


@dataclass
class ZooVersion:
    """A version's files and metadata, the fitted pipelines, and held-out raw records to predict."""

    dataset: str
    schema: Schema
    files: dict[str, bytes]
    metadata: dict[str, Any]
    pipelines: dict[str, Pipeline] = field(repr=False)
    holdout: pd.DataFrame = field(repr=False)


def build_zoo_version(dataset: str, *, rows: int = 1500, seed: int = 0, with_gate: bool = True) -> ZooVersion:
    """Every zoo model and the ensemble fitted on ``rows`` records of a bundled dataset.

    Fitted once per session for each (dataset, rows, seed), since several modules gate against the same version;
    each caller gets its own dicts and holdout (the fitted pipelines are shared: tests only predict with them).
    """
    fitted = _fit_zoo_version(dataset, rows, seed)
    files = {name: data for name, data in fitted.files.items() if with_gate or name != GATE_FILE}
    return ZooVersion(
        dataset, fitted.schema, files, deepcopy(fitted.metadata), dict(fitted.pipelines), fitted.holdout.copy()
    )


@cache
def _fit_zoo_version(dataset: str, rows: int, seed: int) -> ZooVersion:
    target = TARGETS[dataset]
    raw = read_bundled(dataset).sample(n=rows + 400, random_state=seed).reset_index(drop=True)
    frame, _ = clean(raw.iloc[:rows], target)
    info = resolve_task(frame[target], configured_task="auto", configured_metric=None)
    frame[target] = target_labels(frame[target], info.task)
    schema = infer_schema(frame, target=target, task=info.task, classes=info.classes)
    parts = split(frame, target=target, config=SplitConfig(strategy="random", seed=seed), info=info)
    plan = plan_features(schema, parts.train)
    fitted = {
        name: fit_model(name, parts.train, schema=schema, plan=plan, info=info, seed=seed, cv_folds=2) for name in ZOO
    }
    pipelines = {name: result.pipeline for name, result in fitted.items()}
    oof = {name: result.oof for name, result in fitted.items() if name != "dummy"}
    weights = greedy_weights(oof, parts.train[target], info, rounds=10)
    pipelines["ensemble"] = build_ensemble(pipelines, weights, schema, info, parts.train)
    files = {
        "schema.json": schema.to_json().encode(),
        **{f"models/{name}.pkl": pickle.dumps(pipeline, protocol=5) for name, pipeline in pipelines.items()},
    }
    files[GATE_FILE] = raw.iloc[:300].drop(columns=[target]).to_csv(index=False).encode()
    leaderboard = [{"rank": rank, "model": name} for rank, name in enumerate(pipelines, start=1)]
    metadata = {"leaderboard": leaderboard, "metric": info.metric, "task": info.task, "classes": list(info.classes)}
    holdout = raw.iloc[rows:].drop(columns=[target]).reset_index(drop=True)
    return ZooVersion(dataset, schema, files, metadata, pipelines, holdout)


def messy_records(holdout: pd.DataFrame) -> pd.DataFrame:
    """Held-out records plus missing values in every column, so imputers and missing categories are exercised."""
    messy = holdout.copy()
    rng = np.random.default_rng(1)
    for name in messy.columns:
        messy[name] = messy[name].astype(object).where(rng.random(len(messy)) > 0.1, None)
    return messy
