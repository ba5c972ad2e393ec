"""The schema's example is synthetic: no real training record reaches /api/v1/schema, the form or the docs.

Before, the example was the first row of the training data, published in schema.json and served to anyone who
opened the form. Now training writes each column's median or most frequent level (flagged ``example_synthetic``),
and a version published before that is served with a typical record derived from its column specs instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.reliability.served import served_app
from tests.serving.conftest import PROJECT, build_bundle, synthetic_frame

from adaptml.registry import Registry
from adaptml.schema import infer_schema
from adaptml.storage import Storage

REAL = {"size": 187.3, "rooms": 6, "city": "nice", "listed": "2024-11-29"}  # a distinctive "customer" record


def test_training_publishes_medians_and_most_frequent_levels_not_a_row():
    frame = pd.concat([pd.DataFrame([{**REAL, "price": 1.0}]), synthetic_frame(60)], ignore_index=True)
    schema = infer_schema(frame.drop(columns=["segment"]), target="price", task="regression")
    example = schema.example
    assert schema.example_synthetic and json.loads(schema.to_json())["example_synthetic"] is True
    assert example["size"] == pytest.approx(float(frame["size"].median()))
    assert example["rooms"] == round(float(frame["rooms"].median()))
    assert example["city"] == frame["city"].mode().iloc[0]
    assert example != REAL and example["listed"] != REAL["listed"]


@pytest.fixture
def client(s3_client: Any, bucket: str, tmp_path: Path) -> Any:
    """A version published the old way: its schema.json holds a real record as the example, and no flag."""
    bundle = build_bundle("regression")
    schema = json.loads(bundle.files["schema.json"])
    schema.pop("example_synthetic", None)
    schema["example"] = REAL
    registry = Registry(f"s3://{bucket}/registry", PROJECT, storage=Storage(s3_client))
    registry.publish("v1", {**bundle.files, "schema.json": json.dumps(schema).encode()}, bundle.metadata)
    with served_app(registry, tmp_path) as app:
        yield app.test_client()


def _leaks(text: str) -> list[str]:
    """The record's distinctive values found in ``text`` (its room count and city are common values)."""
    return [name for name in ("size", "listed") if str(REAL[name]) in text]


def test_an_old_versions_real_example_is_not_served(client: Any):
    schema = client.get("/api/v1/schema")
    assert schema.status_code == 200
    example = schema.get_json()["example"]
    assert set(example) == set(REAL) and not _leaks(json.dumps(example)), example
    size = next(column for column in schema.get_json()["columns"] if column["name"] == "size")
    assert example["size"] == pytest.approx((size["min"] + size["max"]) / 2)
    for page in ("/", "/docs", "/openapi.json", "/template.csv"):
        answer = client.get(page)
        assert answer.status_code == 200, page
        assert not _leaks(answer.get_data(as_text=True)), page
