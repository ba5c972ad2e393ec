"""The compiled fast paths: equal to the pickled pipelines for every zoo family, refused for unknown steps,
reported per model, and used by the API without changing its responses."""

from __future__ import annotations

import numpy as np
import pytest
from tests.serving.conftest import make_settings
from tests.serving.zoo_versions import ZooVersion, build_zoo_version, messy_records

from adaptml.registry import LoadedVersion, Registry
from adaptml.serving import create_app
from adaptml.serving.compiled import GATE_FILE, TOLERANCE
from adaptml.serving.compiled.derive import derive_fast_paths
from adaptml.serving.compiled.gate import GATE_SCHEMA
from adaptml.serving.loaded import load_models
from adaptml.serving.predict import predict_direct, prepare_input
from adaptml.serving.store import ModelStore


@pytest.fixture(scope="module", params=["adult", "hotel_rates"])
def zoo(request: pytest.FixtureRequest) -> ZooVersion:
    return build_zoo_version(request.param)


def _derived(version: ZooVersion, *, drop_gate: bool = False):
    files = {k: v for k, v in version.files.items() if not (drop_gate and k == GATE_FILE)}
    return derive_fast_paths(load_models(LoadedVersion("zoo", "v1", dict(version.metadata), files)))


def test_every_zoo_family_and_the_ensemble_get_a_fast_path_equal_to_the_pickle(zoo):
    models = _derived(zoo)
    assert models.fast_paths is not None
    for name, path in models.fast_paths.items():
        assert path.enabled, f"{name}: {path.reason}"
        assert path.gate == GATE_FILE and path.gate_records == 300
    records = messy_records(zoo.holdout)
    prepared = prepare_input(models.schema, records)
    names = list(models.models)
    for output in predict_direct(models, prepared, names):
        pipeline = zoo.pipelines[output.name]
        tolerance = TOLERANCE[models.fast_paths[output.name].family or ""]
        assert not output.errors
        if output.classes:
            assert list(output.predictions) == list(pipeline.predict(prepared.records)), output.name
            np.testing.assert_allclose(
                output.probabilities, pipeline.predict_proba(prepared.records), rtol=tolerance, atol=tolerance
            )
        else:
            expected = pipeline.predict(prepared.records)
            np.testing.assert_allclose(output.predictions.astype(float), expected, rtol=tolerance, atol=tolerance)


def test_without_gate_records_the_gate_uses_the_schema(zoo):
    models = _derived(zoo, drop_gate=True)
    assert models.fast_paths is not None
    assert {path.gate for path in models.fast_paths.values()} == {GATE_SCHEMA}
    assert all(path.enabled for path in models.fast_paths.values())


def test_a_step_the_compiler_does_not_know_keeps_the_pipeline_and_says_why(regression_bundle):
    loaded = LoadedVersion("homes", "v1", dict(regression_bundle.metadata), regression_bundle.files)
    models = derive_fast_paths(load_models(loaded))
    assert models.fast_paths is not None
    for name, path in models.fast_paths.items():
        assert not path.enabled and path.reason, (name, path)  # e.g. a FunctionTransformer in the encoding
        assert type(models.predictors[name]).__name__ == "SharedPipeline"


def test_models_and_readyz_report_the_fast_path_per_model(storage, bucket, tmp_path):
    version = build_zoo_version("adult", rows=600, with_gate=True)
    registry = Registry(f"s3://{bucket}/registry", "zoo", storage=storage)
    registry.publish("v1", version.files, version.metadata)
    store = ModelStore(registry)
    app = create_app(make_settings(registry, tmp_path / "results", max_rows=5000), registry=registry, store=store)
    client = app.test_client()
    try:
        assert store.wait_fast_paths(120)
        body = client.get("/api/v1/models").get_json()
        ready = client.get("/readyz").get_json()
        for listed in (body["models"], ready["models"]):
            assert {m["name"]: m["fast_path"]["enabled"] for m in listed} == dict.fromkeys(version.pipelines, True)
            assert all(m["fast_path"]["gate"] == GATE_FILE for m in listed)
        records = version.holdout.head(3).to_dict("records")
        answer = client.post("/api/v1/predict", json={"records": records}).get_json()
        assert answer["row_count"] == 3 and answer["error_count"] == 0
        assert set(answer["rows"][0]) == {"row", "predictions", "probabilities"}
        for name, pipeline in version.pipelines.items():
            expected = list(pipeline.predict(version.holdout.head(3)))
            assert [row["predictions"][name] for row in answer["rows"]] == expected
    finally:
        store.close()
