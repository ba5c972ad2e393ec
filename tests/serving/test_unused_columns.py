"""Columns feature selection dropped are unused: derived from the fitted pipelines, optional in the API, marked
on the form. Real training pipelines (training's own ``fit_model``) on the synthetic homes frame."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from tests.serving.conftest import synthetic_frame

from adaptml.registry import Registry
from adaptml.schema import Schema, infer_schema
from adaptml.serving import create_app
from adaptml.serving.used_columns import selected_features, unused_columns
from adaptml.training import fit_model, plan_features, resolve_task
from adaptml.training.ensemble import build_ensemble
from adaptml.training.task import TaskInfo

TARGET = "price"


def _fit(kept: tuple[str, ...], names: tuple[str, ...] = ("dummy", "ridge")) -> tuple[Schema, dict[str, Pipeline]]:
    """Training's pipelines on the homes frame, with selection keeping only ``kept`` features."""
    frame = synthetic_frame(120).drop(columns=["segment"])
    info = resolve_task(frame[TARGET], configured_task="regression", configured_metric=None)
    schema = infer_schema(frame, target=TARGET, task="regression")
    plan = plan_features(schema, frame).kept(kept)
    fitted = {
        name: fit_model(name, frame, schema=schema, plan=plan, info=info, seed=0, cv_folds=2).pipeline for name in names
    }
    return schema, fitted


@pytest.fixture(scope="module")
def dropped_rooms() -> tuple[Schema, dict[str, Pipeline], TaskInfo]:
    schema, pipelines = _fit(("size", "city", "listed_month", "listed_year"))
    info = TaskInfo("regression", "rmse", False)
    pipelines["ensemble"] = build_ensemble(
        {"ridge": pipelines["ridge"]}, {"ridge": 1.0}, schema, info, synthetic_frame(120).drop(columns=["segment"])
    )
    return schema, pipelines, info


def test_a_column_no_model_keeps_is_unused(dropped_rooms: Any) -> None:
    schema, pipelines, _ = dropped_rooms
    assert unused_columns(schema, pipelines) == ("rooms",)  # 'listed' is used through its date parts
    assert "listed_month" in (selected_features(pipelines["ensemble"]) or ())  # read through the members


def test_every_column_used_when_selection_kept_all() -> None:
    schema, pipelines = _fit(("size", "rooms", "city", "listed_year"), names=("ridge",))
    assert unused_columns(schema, pipelines) == ()


def test_a_pipeline_of_another_shape_makes_nothing_optional(dropped_rooms: Any, regression_bundle: Any) -> None:
    schema, pipelines, _ = dropped_rooms
    other = next(iter(regression_bundle.pipelines.values()))  # no select step: its use cannot be told
    assert selected_features(other) is None
    assert unused_columns(schema, {**pipelines, "other": other}) == ()


@pytest.fixture
def unused_app(registry: Registry, settings_for: Any, dropped_rooms: Any) -> Iterator[Any]:
    schema, pipelines, _ = dropped_rooms
    files = {"schema.json": schema.to_json().encode()}
    files |= {f"models/{name}.pkl": pickle.dumps(model) for name, model in pipelines.items()}
    board = [{"rank": i, "model": name, "rmse": 10.0 + i} for i, name in enumerate(pipelines, start=1)]
    registry.publish("v1", files, {"leaderboard": board, "metric": "rmse", "higher_is_better": False})
    app = create_app(settings_for(registry), registry=registry)
    yield app
    app.extensions["adaptml"].store.close()


def test_the_api_accepts_records_without_an_unused_column(unused_app: Any) -> None:
    client = unused_app.test_client()
    record = {"size": 80.0, "city": "paris", "listed": "2023-05-01"}  # no 'rooms'
    answer = client.post("/api/v1/predict", json=[record, {**record, "size": 120.0}])
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert all(row["predictions"]["ridge"] is not None for row in body["rows"])
    assert not [w for w in body.get("warnings", []) if w.get("column") == "rooms"]
    frame = pd.DataFrame([record] * 12)  # the pandas path too (more rows than the Dask threshold)
    answer = client.post("/api/v1/predict", data=frame.to_csv(index=False), content_type="text/csv")
    assert answer.status_code == 200, answer.get_json()


def test_a_used_column_is_still_required(unused_app: Any) -> None:
    answer = unused_app.test_client().post(
        "/api/v1/predict", json={"rooms": 3, "city": "paris", "listed": "2023-05-01"}
    )
    assert answer.status_code == 400
    assert "size" in answer.get_json()["message"]


def test_the_form_marks_the_unused_field_and_does_not_require_it(unused_app: Any) -> None:
    page = unused_app.test_client().get("/").get_data(as_text=True)
    field = page[page.index('name="rooms"') - 600 : page.index('name="rooms"') + 400]
    assert "unused by the models" in field
    assert "required" not in field[field.index('name="rooms"') :].split(">")[0]
    assert page.count("unused by the models") == 2  # the label and the hint of 'rooms' only
    answer = unused_app.test_client().post(
        "/predict", data={"size": "80", "rooms": "", "city": "paris", "listed": "2023-05-01"}
    )
    assert answer.status_code == 200
