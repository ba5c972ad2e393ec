"""Per-prediction explanations: LightGBM/XGBoost contributions, the linear fallback, and the API's explain=true."""

from __future__ import annotations

import numpy as np
import pytest
from tests.serving.zoo_versions import ZooVersion, build_zoo_version

from adaptml.serving.explain import MAX_EXPLAIN_ROWS, explain_model

RECORD = {"size": 80.0, "rooms": 3, "city": "paris", "listed": "2024-03-01"}


@pytest.fixture(scope="module")
def adult() -> ZooVersion:
    return build_zoo_version("adult", rows=600, with_gate=False)


@pytest.mark.parametrize("name", ["lightgbm", "xgboost"])
def test_boosters_explain_every_row_by_input_column(adult: ZooVersion, name: str):
    records = adult.holdout.iloc[:7]
    explained = explain_model(name, adult.pipelines[name], records)
    assert len(explained) == 7
    for row in explained:
        assert row["method"].startswith(name) and isinstance(row["base"], float)
        assert 0 < len(row["contributions"]) <= 5
        assert {c["column"] for c in row["contributions"]} <= set(adult.schema.names)
        sizes = [abs(c["contribution"]) for c in row["contributions"]]
        assert sizes == sorted(sizes, reverse=True) and sizes[0] > 0


def test_lightgbm_contributions_sum_to_the_raw_margin_minus_the_bias(adult: ZooVersion):
    pipeline = adult.pipelines["lightgbm"]
    records = adult.holdout.iloc[:5]
    explained = explain_model("lightgbm", pipeline, records, top=1000)
    margin = pipeline[-1].model_.predict(pipeline[:-1].transform(records), raw_score=True)
    totals = [sum(c["contribution"] for c in row["contributions"]) for row in explained]
    bases = [row["base"] for row in explained]
    assert np.allclose(totals, np.asarray(margin) - np.asarray(bases), atol=1e-6)


def test_models_without_contributions_say_so(adult: ZooVersion):
    explained = explain_model("random_forest", adult.pipelines["random_forest"], adult.holdout.iloc[:2])
    assert explained == [{"explanation": "not available for random_forest"}] * 2
    ensemble = explain_model("ensemble", adult.pipelines["ensemble"], adult.holdout.iloc[:1])
    assert ensemble == [{"explanation": "not available for ensemble"}]


def test_api_explain_adds_contributions_per_row_and_model(client, published):
    body = client.post("/api/v1/predict?explain=true", json=[RECORD, {**RECORD, "size": 40.0}]).get_json()
    assert len(body["rows"]) == 2
    for row in body["rows"]:
        explanations = row["explanations"]
        assert set(explanations) == set(row["predictions"])
        ridge = explanations["ridge"]
        assert ridge["method"].startswith("linear") and ridge["contributions"]
        assert {c["column"] for c in ridge["contributions"]} <= set(RECORD)
        assert explanations["random_forest"] == {"explanation": "not available for random_forest"}
    plain = client.post("/api/v1/predict", json=RECORD).get_json()
    assert "explanations" not in plain["rows"][0]


def test_api_explain_is_capped(client, published):
    response = client.post("/api/v1/predict?explain=true", json=[RECORD] * (MAX_EXPLAIN_ROWS + 1))
    assert response.status_code == 400 and str(MAX_EXPLAIN_ROWS) in response.get_json()["message"]


def test_one_hot_and_linear_features_are_summed_back_to_input_columns(adult: ZooVersion):
    explained = explain_model("ridge", adult.pipelines["ridge"], adult.holdout.iloc[:5], top=1000)
    for row in explained:
        assert row["method"].startswith("linear")
        assert {c["column"] for c in row["contributions"]} <= set(adult.schema.names)
