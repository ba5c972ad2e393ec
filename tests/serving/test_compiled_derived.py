"""Models on text, dated-text and time-of-day data get a fast path: the fitted ``DerivedFeatures`` step runs as
itself on the typed frame, the rest of the pipeline on arrays, and the gate checks the result as usual."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from adaptml.config import SplitConfig
from adaptml.registry import LoadedVersion
from adaptml.schema import infer_schema
from adaptml.serving.compiled import GATE_FILE, TOLERANCE
from adaptml.serving.compiled.derive import derive_fast_paths
from adaptml.serving.loaded import LoadedModels, load_models
from adaptml.serving.predict import predict_direct, prepare_input
from adaptml.training import fit_model, plan_features, resolve_task, split
from adaptml.training.features import DerivedFeatures

WORDS = ["great", "terrible", "fake", "news", "market", "jobs", "win", "sad", "big", "vote", "now", "today"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
MODELS = ("ridge", "lightgbm")


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sentences: list[str | None] = [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) for _ in range(rows)]
    sentences[0] = None
    stamps = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 10**8, rows), unit="s")
    month, year = rng.integers(0, 12, rows), rng.integers(2000, 2010, rows)
    months = [f"{MONTHS[m]} 1 {y}" for m, y in zip(month, year, strict=True)]
    signal = np.array([0.0 if s is None else 3.0 * s.count("great") for s in sentences])
    return pd.DataFrame(
        {
            "tweet": sentences,
            "posted": stamps.astype(str),
            "month": months,
            "colour": rng.choice(["red", "green", "blue"], rows),
            "n": rng.normal(size=rows),
            "y": signal + stamps.hour.to_numpy() / 6 + rng.normal(scale=0.1, size=rows),
        }
    )


@pytest.fixture(scope="module")
def version() -> tuple[LoadedModels, dict, pd.DataFrame]:
    frame = _frame(400, 0)
    schema = infer_schema(frame, target="y", task="regression")
    typed = schema.coerce(frame.drop(columns=["y"]), strict=False).assign(y=frame["y"])
    info = resolve_task(typed["y"], configured_task="regression", configured_metric=None)
    parts = split(typed, target="y", config=SplitConfig(strategy="random", seed=0), info=info)
    plan = plan_features(schema, parts.train)
    pipelines = {
        name: fit_model(name, parts.train, schema=schema, plan=plan, info=info, seed=0, cv_folds=2).pipeline
        for name in MODELS
    }
    files = {
        "schema.json": schema.to_json().encode(),
        GATE_FILE: frame.drop(columns=["y"]).head(200).to_csv(index=False).encode(),
        **{f"models/{name}.pkl": pickle.dumps(pipeline, protocol=5) for name, pipeline in pipelines.items()},
    }
    metadata = {
        "leaderboard": [{"rank": rank, "model": name} for rank, name in enumerate(pipelines, start=1)],
        "metric": info.metric,
        "task": info.task,
    }
    models = derive_fast_paths(load_models(LoadedVersion("text", "v1", metadata, files)))
    return models, pipelines, _frame(60, 1).drop(columns=["y"])


def test_the_plan_uses_the_derived_step(version):
    _, pipelines, _ = version
    for pipeline in pipelines.values():
        assert any(type(step) is DerivedFeatures for _, step in pipeline.steps)


def test_models_on_derived_features_get_a_fast_path_equal_to_the_pickle(version):
    models, pipelines, holdout = version
    assert models.fast_paths is not None
    for name in MODELS:
        assert models.fast_paths[name].enabled, models.fast_paths[name].reason
    for rows in (1, 7, len(holdout)):
        prepared = prepare_input(models.schema, holdout.head(rows))
        for output in predict_direct(models, prepared, list(MODELS)):
            tolerance = TOLERANCE[models.fast_paths[output.name].family or ""]
            expected = pipelines[output.name].predict(prepared.records)
            assert not output.errors
            np.testing.assert_allclose(output.predictions.astype(float), expected, rtol=tolerance, atol=tolerance)
