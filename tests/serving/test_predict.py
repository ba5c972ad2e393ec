"""The prediction core: every model side by side, row errors isolated, Dask above the threshold."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from adaptml.errors import InputError
from adaptml.registry import Registry
from adaptml.serving.dask_engine import DaskEngine, split_frame
from adaptml.serving.loaded import LoadedModels, load_models
from adaptml.serving.predict import ENGINE_DASK, ENGINE_DIRECT, predict_all, predict_model


@pytest.fixture
def models(registry: Registry, published) -> LoadedModels:
    return load_models(registry.load())


@pytest.fixture
def classifier_models(registry: Registry, classification_bundle) -> LoadedModels:
    registry.publish("c1", classification_bundle.files, classification_bundle.metadata)
    return load_models(registry.load())


def assert_equals_pipelines(result, bundle, frame: pd.DataFrame) -> None:
    for output in result.outputs:
        expected = bundle.pipelines[output.name].predict(frame)
        np.testing.assert_allclose(output.predictions.astype(float), expected, rtol=1e-12)
        assert output.errors == {}


def test_models_come_ordered_by_leaderboard_rank(models, published):
    ranked = [row["model"] for row in published.metadata["leaderboard"]]
    assert [info.name for info in models.infos] == ranked
    assert [info.rank for info in models.infos] == [1, 2, 3]
    assert models.infos[0].metric == "rmse" and models.infos[0].score == published.metadata["leaderboard"][0]["rmse"]


def test_ten_rows_are_predicted_directly(models, published, dask_engine):
    frame = published.features.head(10)
    result = predict_all(models, frame, dask=dask_engine, dask_threshold=10)
    assert result.engine == ENGINE_DIRECT and result.row_count == 10 and result.version == "v1"
    assert_equals_pipelines(result, published, frame)


def test_eleven_rows_go_to_the_dask_cluster_in_input_order(models, published, dask_engine):
    frame = published.features.iloc[[7, 3, 11, 0, 5, 9, 2, 14, 1, 8, 4]]
    result = predict_all(models, frame, dask=dask_engine, dask_threshold=10)
    assert result.engine == ENGINE_DASK and result.warnings == ()
    assert_equals_pipelines(result, published, frame)


def test_models_are_broadcast_once_per_version(models, published, dask_engine):
    predict_all(models, published.features.head(12), dask=dask_engine, dask_threshold=10)
    first = dask_engine._scattered
    predict_all(models, published.features.head(20), dask=dask_engine, dask_threshold=10)
    assert dask_engine._scattered is first
    workers = dask_engine.client().scheduler_info(n_workers=-1)["workers"]
    holders = dask_engine.client().who_has([future for future, _ in first[1].values()])
    assert all(len(who) == len(workers) for who in holders.values())
    assert not dask_engine.client().amm.running()  # its ReduceReplicas policy would drop the broadcast copies


def test_classifiers_give_probabilities_per_class(classifier_models, classification_bundle, dask_engine):
    frame = classification_bundle.features.head(12)
    result = predict_all(classifier_models, frame, dask=dask_engine, dask_threshold=10)
    for output in result.outputs:
        pipeline = classification_bundle.pipelines[output.name]
        assert output.classes == ("high", "low", "mid")
        assert list(output.predictions) == list(pipeline.predict(frame))
        np.testing.assert_allclose(output.probabilities, pipeline.predict_proba(frame))


@pytest.mark.parametrize("rows", [4, 40], ids=["direct", "dask"])
def test_one_model_failing_on_a_row_only_loses_that_cell(models, published, dask_engine, rows):
    frame = published.features.head(rows).copy()
    frame.loc[frame.index[2], "city"] = "atlantis"  # unseen: the strict ridge encoder raises, the others ignore it
    result = predict_all(models, frame, dask=dask_engine, dask_threshold=10)
    ridge = result.output("ridge")
    assert list(ridge.errors) == [2]
    assert "Found unknown categories ['atlantis']" in ridge.errors[2]
    assert ridge.predictions[2] is None and ridge.predictions[1] is not None
    assert all(result.output(name).errors == {} for name in ("random_forest", "hist_gradient_boosting"))
    assert result.error_count == 1


def test_bisection_budget_marks_the_rest_instead_of_looping(models, published):
    frame = published.features.head(50).assign(city="atlantis")
    output = predict_model("ridge", models.models["ridge"], frame, max_attempts=8)
    assert sorted(output.errors) == list(range(50))
    assert all("unknown categories" in message for message in output.errors.values())


def test_unreachable_scheduler_falls_back_to_direct_and_says_so(models, published):
    engine = DaskEngine("tcp://127.0.0.1:9", connect_timeout=1.0)
    result = predict_all(models, published.features.head(11), dask=engine, dask_threshold=10)
    assert result.engine == ENGINE_DIRECT
    assert "the Dask cluster is unavailable" in result.warnings[0] and "predicted directly" in result.warnings[0]
    assert_equals_pipelines(result, published, published.features.head(11))


def test_a_scheduler_that_dies_means_direct_prediction_then_a_pause_before_retrying(models, published):
    from distributed import LocalCluster

    cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0")
    engine = DaskEngine(cluster.scheduler_address, connect_timeout=1.0, retry_after=600)
    frame = published.features.head(12)
    try:
        assert predict_all(models, frame, dask=engine).engine == ENGINE_DASK
    finally:
        cluster.close()
    lost = predict_all(models, frame, dask=engine)
    assert lost.engine == ENGINE_DIRECT and "the Dask cluster is unavailable" in lost.warnings[0]
    assert_equals_pipelines(lost, published, frame)
    paused = predict_all(models, frame, dask=engine)
    assert paused.engine == ENGINE_DIRECT and "next attempt in" in paused.warnings[0]
    engine.close()


def test_extra_columns_are_ignored_and_reported(models, published):
    frame = published.features.head(2).assign(note="x", price=1.0)
    result = predict_all(models, frame)
    assert result.extra_columns == ("note",)  # the target is known, not "extra"
    assert list(result.inputs.columns) == ["size", "rooms", "city", "listed"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": "rooms"}, "missing column 'rooms'"),
        ({"size": "12 m2"}, "row 2, column 'size': expected a number, got '12 m2'"),
        ({"listed": "yesterday"}, "row 2, column 'listed': expected a date, got 'yesterday'"),
    ],
)
def test_bad_values_name_row_and_column(models, published, change, message):
    frame = published.features.head(3).astype(object)
    if "drop" in change:
        frame = frame.drop(columns=[change["drop"]])
    else:
        column, value = next(iter(change.items()))
        frame.loc[frame.index[1], column] = value
    with pytest.raises(InputError, match=message):
        predict_all(models, frame)


def test_missing_values_are_predicted_not_crashed(models, published):
    frame = pd.DataFrame([{"size": None, "rooms": "", "city": None, "listed": "n/a"}])
    result = predict_all(models, frame)
    assert all(output.predictions[0] is not None for output in result.outputs if output.name != "ridge")


def test_split_frame_keeps_order_and_never_makes_empty_parts():
    frame = pd.DataFrame({"a": range(11)})
    parts = split_frame(frame, 4)
    assert [len(p) for p in parts] == [3, 3, 3, 2]
    assert pd.concat(parts)["a"].tolist() == list(range(11))
    assert len(split_frame(frame.head(2), 8)) == 2


def test_pipelines_skip_their_coercer_only_when_it_uses_the_version_schema(models, published, dask_engine):
    tail, takes_typed = models.predictor("ridge")
    assert takes_typed and tail.steps == models.models["ridge"].steps[1:]
    whole = dataclasses.replace(models, version="v1-raw", predictors={})  # e.g. a coercer with another schema
    assert whole.predictor("ridge") == (whole.models["ridge"], False)
    frame = published.features.head(12)
    for dask in (None, dask_engine):
        assert_equals_pipelines(predict_all(whole, frame, dask=dask), published, frame)
