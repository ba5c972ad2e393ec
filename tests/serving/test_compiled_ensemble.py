"""An ensemble with a member the compiler refuses (CatBoost) keeps its fast path: the compiled members stay
compiled, the refused one is called through its pickled pipeline, and the gate checks the blend as usual."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from adaptml.config import SplitConfig
from adaptml.datasets import read_bundled
from adaptml.registry import LoadedVersion
from adaptml.schema import infer_schema
from adaptml.serving.compiled import GATE_FILE, TOLERANCE
from adaptml.serving.compiled.derive import derive_fast_paths
from adaptml.serving.compiled.estimators import TABLE_ROWS
from adaptml.serving.compiled.scorer import CompiledModel
from adaptml.serving.loaded import LoadedModels, load_models
from adaptml.serving.predict import predict_direct, prepare_input
from adaptml.serving.state import _all_compiled, _limits_threads
from adaptml.serving.threads import THREADED_ROWS
from adaptml.training import clean, fit_model, plan_features, resolve_task, split, target_labels
from adaptml.training.ensemble import build_ensemble

MEMBERS = ("ridge", "lightgbm", "catboost")


@pytest.fixture(scope="module")
def version() -> tuple[LoadedModels, dict, object]:
    raw = read_bundled("adult").sample(n=900, random_state=0).reset_index(drop=True)
    frame, _ = clean(raw.iloc[:600], "income")
    info = resolve_task(frame["income"], configured_task="auto", configured_metric=None)
    frame["income"] = target_labels(frame["income"], info.task)
    schema = infer_schema(frame, target="income", task=info.task, classes=info.classes)
    parts = split(frame, target="income", config=SplitConfig(strategy="random", seed=0), info=info)
    plan = plan_features(schema, parts.train)
    pipelines = {
        name: fit_model(name, parts.train, schema=schema, plan=plan, info=info, seed=0, cv_folds=2).pipeline
        for name in MEMBERS
    }
    weights = {"ridge": 1.0, "lightgbm": 2.0, "catboost": 1.0}
    pipelines["ensemble"] = build_ensemble(pipelines, weights, schema, info, parts.train)
    files = {
        "schema.json": schema.to_json().encode(),
        GATE_FILE: raw.iloc[:200].drop(columns=["income"]).to_csv(index=False).encode(),
        **{f"models/{name}.pkl": pickle.dumps(pipeline, protocol=5) for name, pipeline in pipelines.items()},
    }
    metadata = {
        "leaderboard": [{"rank": rank, "model": name} for rank, name in enumerate(pipelines, start=1)],
        "metric": info.metric,
        "task": info.task,
        "classes": list(info.classes),
    }
    models = derive_fast_paths(load_models(LoadedVersion("cat", "v1", metadata, files)))
    return models, pipelines, raw.iloc[600:].drop(columns=["income"]).reset_index(drop=True)


def test_the_ensemble_keeps_its_fast_path_with_a_catboost_member(version):
    models, _, _ = version
    assert models.fast_paths is not None
    assert not models.fast_paths["catboost"].enabled  # CatBoost itself: its pipeline serves it
    ensemble = models.fast_paths["ensemble"]
    assert ensemble.enabled, ensemble.reason
    assert ensemble.family == "ensemble"
    assert isinstance(models.predictors["ensemble"], CompiledModel)
    assert all(models.fast_paths[name].enabled for name in ("ridge", "lightgbm"))


@pytest.mark.parametrize("rows", [1, 5, 300])
def test_the_blend_equals_the_pickled_ensemble(version, rows):
    models, pipelines, holdout = version
    prepared = prepare_input(models.schema, holdout.head(rows))
    (output,) = predict_direct(models, prepared, ["ensemble"])
    pickled = pipelines["ensemble"]
    tolerance = TOLERANCE["ensemble"]
    assert not output.errors
    assert list(output.predictions) == list(pickled.predict(prepared.records))
    np.testing.assert_allclose(
        output.probabilities, pickled.predict_proba(prepared.records), rtol=tolerance, atol=tolerance
    )


def test_only_small_requests_of_compiled_models_skip_the_thread_limit(version):
    models, _, _ = version
    assert _all_compiled(models, 1, ["ridge", "ensemble"])
    assert not _all_compiled(models, 1, None)  # every model: CatBoost's pipeline may use its threads
    assert not _all_compiled(models, TABLE_ROWS + 1, ["ridge"])


def test_an_in_process_batch_from_threaded_rows_may_use_every_core(version):
    models, _, _ = version
    assert _limits_threads(models, 10, None, dask_threshold=10)  # small: one thread
    assert not _limits_threads(models, 1, ["ridge"], dask_threshold=10)  # compiled: no pool to limit
    assert not _limits_threads(models, 11, None, dask_threshold=10)  # Dask's workers limit their own threads
    assert _limits_threads(models, THREADED_ROWS - 1, None, dask_threshold=1_000_000)
    assert not _limits_threads(models, THREADED_ROWS, None, dask_threshold=1_000_000)  # Dask off: a big batch
