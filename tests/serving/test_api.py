"""The REST API: every route, every input shape, CSV responses, and each bad input with its status and message."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from openapi_spec_validator import validate

RECORD = {"size": 80.0, "rooms": 3, "city": "lyon", "listed": "2023-06-01"}


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_single_record_json_names_version_models_and_every_prediction(client, published):
    response = client.post("/api/v1/predict", json=RECORD)
    assert response.status_code == 200
    body = response.get_json()
    assert response.headers["X-Adaptml-Version"] == body["version"] == "v1"
    assert body["engine"] == "direct" and body["row_count"] == 1 and body["task"] == "regression"
    ranked = published.metadata["leaderboard"]
    assert [(m["name"], m["rank"], m["metric"]) for m in body["models"]] == [
        (row["model"], row["rank"], "rmse") for row in ranked
    ]
    assert body["models"][0]["score"] == pytest.approx(ranked[0]["rmse"])
    row = body["rows"][0]
    assert row["row"] == 1 and list(row["predictions"]) == [r["model"] for r in ranked]
    for name, value in row["predictions"].items():
        assert value == pytest.approx(published.pipelines[name].predict(pd.DataFrame([RECORD]))[0])


@pytest.mark.parametrize(
    "make_request",
    [
        lambda f: {"json": {"records": f.to_dict("records")}},
        lambda f: {"json": f.to_dict("records")},
        lambda f: {"json": {"dataframe_records": f.to_dict("records")}},
        lambda f: {"json": {"dataframe_split": json.loads(f.to_json(orient="split", index=False))}},
        lambda f: {"data": csv_bytes(f), "content_type": "text/csv"},
        lambda f: {"data": {"file": (io.BytesIO(csv_bytes(f)), "batch.csv")}, "content_type": "multipart/form-data"},
    ],
    ids=["records", "list", "dataframe_records", "dataframe_split", "csv_body", "multipart"],
)
def test_every_batch_shape_gives_the_same_predictions(client, published, make_request):
    frame = published.features.head(4)
    body = client.post("/api/v1/predict", **make_request(frame)).get_json()
    assert body["row_count"] == 4 and [row["row"] for row in body["rows"]] == [1, 2, 3, 4]
    for name, pipeline in published.pipelines.items():
        got = [row["predictions"][name] for row in body["rows"]]
        np.testing.assert_allclose(got, pipeline.predict(frame))


def test_accept_csv_returns_the_results_table(client, published):
    frame = published.features.head(3)
    response = client.post("/api/v1/predict", json=frame.to_dict("records"), headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="homes-v1-predictions.csv"' in response.headers["Content-Disposition"]
    table = pd.read_csv(io.BytesIO(response.data))
    ranked = [row["model"] for row in published.metadata["leaderboard"]]
    assert list(table.columns) == [*(f"{name}_prediction" for name in ranked), *frame.columns]
    for name in ranked:
        np.testing.assert_allclose(table[f"{name}_prediction"], published.pipelines[name].predict(frame))


def test_eleven_rows_use_dask_and_ten_rows_do_not(client, published):
    eleven = client.post("/api/v1/predict", json={"records": published.features.head(11).to_dict("records")})
    ten = client.post("/api/v1/predict", json={"records": published.features.head(10).to_dict("records")})
    assert eleven.get_json()["engine"] == "dask" and ten.get_json()["engine"] == "direct"
    expected = published.pipelines["random_forest"].predict(published.features.head(11))
    np.testing.assert_allclose([r["predictions"]["random_forest"] for r in eleven.get_json()["rows"]], expected)


def test_classification_rows_carry_class_probabilities(client, registry, classification_bundle):
    registry.publish("c1", classification_bundle.files, classification_bundle.metadata)
    client.application.extensions["adaptml"].store.refresh()
    frame = classification_bundle.features.head(2)
    body = client.post("/api/v1/predict", json=frame.to_dict("records")).get_json()
    assert body["version"] == "c1" and body["models"][0]["classes"] == ["high", "low", "mid"]
    pipeline = classification_bundle.pipelines["logistic_regression"]
    first = body["rows"][0]
    assert first["predictions"]["logistic_regression"] == pipeline.predict(frame)[0]
    probabilities = first["probabilities"]["logistic_regression"]
    assert list(probabilities) == ["high", "low", "mid"]
    np.testing.assert_allclose(list(probabilities.values()), pipeline.predict_proba(frame)[0])
    table = pd.read_csv(
        io.BytesIO(client.post("/api/v1/predict", json=frame.to_dict("records"), headers={"Accept": "text/csv"}).data)
    )
    assert "logistic_regression_proba_mid" in table.columns


def test_one_model_failing_on_a_row_reports_the_cell_and_keeps_the_rest(client, published):
    records = published.features.head(3).to_dict("records")
    records[1]["city"] = "atlantis"
    body = client.post("/api/v1/predict", json=records).get_json()
    assert body["error_count"] == 1
    assert body["rows"][1]["predictions"]["ridge"] is None
    assert "unknown categories" in body["rows"][1]["errors"]["ridge"]
    assert body["rows"][1]["predictions"]["random_forest"] is not None
    assert "errors" not in body["rows"][0]


def test_extra_columns_are_ignored_and_reported(client):
    body = client.post("/api/v1/predict", json={**RECORD, "colour": "red", "Unnamed: 0": 4}).get_json()
    assert body["extra_columns_ignored"] == ["colour", "Unnamed: 0"]
    assert body["row_count"] == 1


def test_invocations_speaks_mlflow_for_the_best_model(client, published):
    frame = published.features.head(3)
    split = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
    response = client.post("/invocations", json=split)
    best = published.metadata["leaderboard"][0]["model"]
    assert response.status_code == 200 and list(response.get_json()) == ["predictions"]
    np.testing.assert_allclose(response.get_json()["predictions"], published.pipelines[best].predict(frame))
    assert response.headers["X-Adaptml-Version"] == "v1"
    as_csv = client.post("/invocations", data=csv_bytes(frame), content_type="text/csv").get_json()
    assert as_csv == response.get_json()
    bad = client.post("/invocations", json={"dataframe_records": [{**RECORD, "size": "big"}]})
    assert bad.status_code == 400 and bad.get_json()["error_code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"json": {k: v for k, v in RECORD.items() if k != "city"}}, 400, "missing column 'city'"),
        ({"json": {**RECORD, "rooms": "three"}}, 400, "row 1, column 'rooms': expected a number, got 'three'"),
        ({"json": [RECORD, {**RECORD, "size": "1,2,3"}]}, 400, "row 2, column 'size': expected a number"),
        (
            {"json": [RECORD, RECORD, {**RECORD, "listed": "31/31/2023"}]},
            400,
            "row 3, column 'listed': expected a date",
        ),
        ({"json": {**RECORD, "city": {"name": "x"}}}, 400, "row 1, column 'city': expected a single value"),
        ({"json": [RECORD, {**RECORD, "listed": "0001-01-01"}]}, 400, "row 2, column 'listed': the date is outside"),
        (
            {
                "data": b'{"size": 1, "rooms": 2, "listed": "2023-01-01", "city": "\\udaa8x"}',
                "content_type": "application/json",
            },
            400,
            "row 1, column 'city': the text is not valid Unicode",
        ),
        ({"data": b"", "content_type": "application/json"}, 400, "empty request body"),
        ({"data": b"{", "content_type": "application/json"}, 400, "not valid JSON"),
        ({"data": b"size,rooms\n", "content_type": "text/csv"}, 400, "header but no data rows"),
        ({"data": b"\x00\x01binary", "content_type": "text/csv"}, 415, "not CSV text"),
        ({"data": b"<x/>", "content_type": "application/xml"}, 415, "unsupported content type"),
        (
            {"data": {"file": (io.BytesIO(b""), "empty.csv")}, "content_type": "multipart/form-data"},
            400,
            "the uploaded file is empty",
        ),
        ({"data": {"other": "x"}, "content_type": "multipart/form-data"}, 400, "no file in the multipart upload"),
        ({"json": [RECORD] * 501}, 413, "more than 500 records"),
        ({"data": b"a\n" + b"1\n" * 501, "content_type": "text/csv"}, 413, "more than 500 records"),
        ({"data": b"x" * (1024 * 1024 + 10), "content_type": "text/csv"}, 413, "larger than the 1 MB limit"),
    ],
    ids=[
        "missing-column",
        "wrong-type",
        "unparseable-number",
        "unparseable-date",
        "nested-value",
        "date-out-of-range",
        "lone-surrogate",
        "empty-body",
        "bad-json",
        "csv-without-rows",
        "binary-csv",
        "unsupported-type",
        "empty-file",
        "no-file",
        "too-many-json",
        "too-many-csv",
        "body-too-large",
    ],
)
def test_bad_input_gets_a_4xx_json_naming_the_problem(client, kwargs, status, message):
    response = client.post("/api/v1/predict", **kwargs)
    assert response.status_code == status, response.data[:300]
    body = response.get_json()
    assert message in body["message"] and body["status"] == status
    assert response.mimetype == "application/json"


def test_error_details_carry_row_and_column(client):
    body = client.post("/api/v1/predict", json=[RECORD, {**RECORD, "rooms": "x"}]).get_json()
    assert body["details"] == {"row": 2, "column": "rooms"}


def test_api_errors_are_json_never_html(client):
    evil = "<script>alert(1)</script>"
    response = client.post("/api/v1/predict", json={**RECORD, "size": evil}, headers={"Accept": "text/html"})
    assert response.status_code == 400 and response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "expected a number" in response.get_json()["message"]


def test_models_route_shows_version_leaderboard_and_refusals(client, registry, published, storage):
    body = client.get("/api/v1/models").get_json()
    assert body["ready"] and body["version"] == "v1" and body["best_model"] == body["models"][0]["name"]
    assert body["leaderboard"] == published.metadata["leaderboard"] and body["metric"] == "rmse"
    registry.publish("v2", published.files, published.metadata)
    storage.put_bytes(registry.version_uri("v2").join("schema.json"), b"{}")
    client.application.extensions["adaptml"].store.refresh()
    body = client.get("/api/v1/models").get_json()
    assert body["version"] == "v1"
    assert body["last_refusal"]["version"] == "v2" and "schema.json does not match" in body["last_refusal"]["reason"]
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["last_refusal"]["version"] == "v2"


def test_schema_route(client, published):
    body = client.get("/api/v1/schema").get_json()
    assert body["version"] == "v1" and body["target"] == "price"
    assert [c["name"] for c in body["columns"]] == ["size", "rooms", "city", "listed"]
    assert set(body["example"]) == {"size", "rooms", "city", "listed"}


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["version"] == "v1"
    assert client.get("/ping").status_code == 200


def test_metrics_count_requests_latency_and_rows_per_model(client, published):
    client.post("/api/v1/predict", json=published.features.head(4).to_dict("records"))
    client.post("/api/v1/predict", json={})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'adaptml_http_requests_total{method="POST",route="/api/v1/predict",status="200"} 1.0' in text
    assert 'adaptml_http_requests_total{method="POST",route="/api/v1/predict",status="400"} 1.0' in text
    assert 'adaptml_http_request_duration_seconds_count{route="/api/v1/predict"} 2.0' in text
    assert 'adaptml_rows_predicted_total{engine="direct",model="ridge"} 4.0' in text
    assert 'adaptml_model_version_info{project="homes",version="v1"} 1.0' in text


def test_openapi_is_valid_and_covers_every_route(client, app):
    spec = client.get("/openapi.json").get_json()
    validate(spec)
    documented = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in {"pages", "api", "ops"}:
            continue  # static files, and routes other parts attach (they describe them via add_openapi_path)
        path = rule.rule.replace("<path:path>", "{path}").replace("<token>", "{token}")
        assert path in documented, path
    assert set(spec["components"]["schemas"]["Record"]["properties"]) == {"size", "rooms", "city", "listed"}


def test_unknown_routes_and_methods_answer_json_on_the_api(client):
    missing = client.get("/api/v1/nothing", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.get_json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    wrong = client.get("/api/v1/predict")
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
