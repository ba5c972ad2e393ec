"""The native encoder: columns over the category limit keep every level (as frequency ranks), encoders pickled
before ranking still load and predict as they did, and the compiled serving path equals the pickles either way."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from adaptml.registry import LoadedVersion
from adaptml.schema import infer_schema
from adaptml.serving.compiled.derive import derive_fast_paths
from adaptml.serving.loaded import load_models
from adaptml.serving.predict import predict_direct, prepare_input
from adaptml.training import clean, fit_model, plan_features, resolve_task, target_labels
from adaptml.training.encoding import MAX_CATEGORIES, NativeEncoder, make_encoder
from adaptml.training.features import NativeEncoder as ReExported

LEVELS = 1000


def _frame(rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A number, a 3-level category and a 1,000-level one whose level carries most of the signal."""
    rng = np.random.default_rng(seed)
    level = rng.permutation(np.arange(rows) % LEVELS)  # every level, about as often each
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "small": rng.choice(["a", "b", "c"], rows),
            "many": [f"L{v:04d}" for v in level],
        }
    )
    frame["y"] = frame["x"] + (level % 7) * 0.5 + (frame["small"] == "b") + rng.normal(0, 0.1, rows)
    return frame


def test_a_column_over_the_limit_keeps_distinct_codes_for_all_its_levels() -> None:
    frame = _frame()
    plan = plan_features(infer_schema(frame, target="y", task="regression"), frame)
    assert make_encoder("native", plan, task="regression", seed=0).overflow == "missing"  # ranks lost in CV
    encoder = make_encoder("native", plan, task="regression", seed=0, overflow="both").fit(frame)
    out = encoder.transform(frame)
    assert encoder.ranked == ("many",) and encoder.native == ("small", "many")
    assert list(out.columns) == ["x", "many__rank", "small", "many"] == list(encoder.get_feature_names_out())
    assert out["many__rank"].dtype == "float64" and out["many__rank"].nunique() == LEVELS
    assert out["many"].dtype == "category" and len(out["many"].cat.categories) == MAX_CATEGORIES
    counts = frame["many"].value_counts()  # rank 0 is the commonest level
    assert out.loc[frame["many"] == counts.index[0], "many__rank"].eq(0).all()
    probe = pd.DataFrame({"x": [0.0, 0.0], "small": ["a", None], "many": ["never seen", None]})
    assert probe.pipe(encoder.transform)["many__rank"].isna().all()


def test_the_other_overflow_settings() -> None:
    frame = _frame()
    ranked = NativeEncoder(("x",), ("small", "many"), overflow="rank").fit(frame)
    assert ranked.native == ("small",) and list(ranked.get_feature_names_out()) == ["x", "many", "small"]
    assert ranked.transform(frame)["many"].nunique() == LEVELS
    old = NativeEncoder(("x",), ("small", "many")).fit(frame)
    assert old.ranked == () and len(old.categories_["many"]) == MAX_CATEGORIES
    assert old.transform(frame)["many"].isna().sum() > 0  # the rarer levels read as missing
    every = NativeEncoder(("x",), ("small", "many"), overflow="all").fit(frame)
    assert every.ranked == () and every.transform(frame)["many"].cat.categories.size == LEVELS


def _old_pickle(pipeline: object) -> bytes:
    """``pipeline`` pickled as before ranking: the encoder's state without ``overflow`` and ``ranks_``, its class
    named by the module it lived in then (``features`` is as long as ``encoding``: the swap keeps the framing)."""
    encoder = pipeline.named_steps["encode"]  # type: ignore[attr-defined]
    del encoder.__dict__["overflow"], encoder.__dict__["ranks_"]
    data = pickle.dumps(pipeline, protocol=5)
    assert b"adaptml.training.encoding" in data
    return data.replace(b"adaptml.training.encoding", b"adaptml.training.features")


@pytest.fixture(scope="module")
def version() -> tuple[dict, dict, pd.DataFrame]:
    frame = _frame()
    typed, _ = clean(frame.iloc[:2500], "y")
    info = resolve_task(typed["y"], configured_task="regression", configured_metric=None)
    typed["y"] = target_labels(typed["y"], info.task)
    schema = infer_schema(typed, target="y", task=info.task)
    plan = plan_features(schema, typed)
    pipelines = {
        name: fit_model(name, typed, schema=schema, plan=plan, info=info, seed=0, cv_folds=2).pipeline
        for name in ("hgb_default", "lightgbm", "xgboost")
    }
    for pipeline in pipelines.values():  # the default keeps the commonest levels only: refit them with ranks
        pipeline.set_params(encode__overflow="both").fit(typed, typed["y"])
    old = fit_model("hist_gradient_boosting", typed, schema=schema, plan=plan, info=info, seed=0, cv_folds=2)
    old_bytes = _old_pickle(old.pipeline)
    ranked = fit_model("hgb_default", typed, schema=schema, plan=plan, info=info, seed=0, cv_folds=2).pipeline
    pipelines["ranked_hgb"] = ranked.set_params(encode__overflow="rank").fit(typed, typed["y"])
    files = {
        "schema.json": schema.to_json().encode(),
        **{f"models/{name}.pkl": pickle.dumps(pipeline, protocol=5) for name, pipeline in pipelines.items()},
    }
    files["models/old_hgb.pkl"] = old_bytes
    metadata = {
        "leaderboard": [{"rank": rank, "model": name} for rank, name in enumerate([*pipelines, "old_hgb"], start=1)],
        "metric": info.metric,
        "task": info.task,
        "classes": [],
    }
    return metadata, files, frame.iloc[2500:].drop(columns=["y"]).reset_index(drop=True)


def test_old_pickles_load_with_the_old_behaviour_and_predict() -> None:
    frame = _frame()
    old = NativeEncoder(("x",), ("small", "many")).fit(frame)
    expected = old.transform(frame)
    del old.__dict__["overflow"], old.__dict__["ranks_"]
    data = pickle.dumps(old)
    loaded = pickle.loads(data.replace(b"adaptml.training.encoding", b"adaptml.training.features"))
    assert type(loaded) is ReExported and loaded.overflow == "missing" and loaded.ranked == ()
    pd.testing.assert_frame_equal(loaded.transform(frame), expected)
    assert loaded.get_params()["overflow"] == "missing"


def test_the_compiled_fast_path_equals_the_pickles_with_ranked_and_old_encoders(version) -> None:
    metadata, files, holdout = version
    models = derive_fast_paths(load_models(LoadedVersion("ranks", "v1", metadata, files)))
    assert models.fast_paths is not None
    for name, path in models.fast_paths.items():
        assert path.enabled, f"{name}: {path.reason}"
    records = holdout.copy()
    records.loc[:4, "many"] = ["never seen", None, "L0001", "", "L0999"]
    prepared = prepare_input(models.schema, records)
    pipelines = {name: pickle.loads(files[f"models/{name}.pkl"]) for name in models.models}
    assert pipelines["old_hgb"].named_steps["encode"].ranked == ()
    assert pipelines["lightgbm"].named_steps["encode"].ranked == ("many",)
    assert pipelines["ranked_hgb"].named_steps["encode"].native == ("small",)
    for output in predict_direct(models, prepared, list(models.models)):
        assert not output.errors, output.name
        expected = pipelines[output.name].predict(prepared.records)
        np.testing.assert_allclose(output.predictions.astype(float), expected, rtol=1e-6, atol=1e-6)
