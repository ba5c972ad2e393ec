"""Tiny, real model versions whose predictions say which version made them.

Each version holds two whole sklearn Pipelines (SchemaCoercer first, as every published model) predicting a
constant: version ``level`` predicts ``level`` with model ``a`` and ``level + 0.5`` with model ``b``. A response
mixing two versions would therefore show it.
"""

from __future__ import annotations

import io
import pickle

import pandas as pd
from sklearn.dummy import DummyRegressor
from sklearn.pipeline import Pipeline

from adaptml.registry import Latest, Registry
from adaptml.schema import SchemaCoercer, infer_schema

FRAME = pd.DataFrame(
    {
        "nights": [1, 2, 3, 4, 5, 6],
        "room": ["single", "double", "suite", "double", "single", "suite"],
        "price": [80.0, 120.0, 300.0, 130.0, 75.0, 310.0],
    }
)
SCHEMA = infer_schema(FRAME, target="price", task="regression")
RECORD = {"nights": 2, "room": "double"}


def expected(level: float) -> dict[str, float]:
    return {"a": float(level), "b": float(level) + 0.5}


def version_files(level: float) -> dict[str, bytes]:
    files = {"schema.json": SCHEMA.to_json().encode("utf-8"), "metrics.csv": b"rank,model,rmse\n1,a,1.0\n2,b,2.0\n"}
    features = FRAME.drop(columns=["price"])
    for name, constant in expected(level).items():
        pipeline = Pipeline(
            [
                ("coerce", SchemaCoercer(SCHEMA.to_dict())),
                ("model", DummyRegressor(strategy="constant", constant=constant)),
            ]
        )
        pipeline.fit(features, FRAME["price"])
        buffer = io.BytesIO()
        pickle.dump(pipeline, buffer)
        files[f"models/{name}.pkl"] = buffer.getvalue()
    return files


def publish(registry: Registry, version: str, level: float) -> Latest:
    metadata = {
        "task": "regression",
        "metric": "rmse",
        "higher_is_better": False,
        "leaderboard": [{"model": "a", "rank": 1, "rmse": 1.0}, {"model": "b", "rank": 2, "rmse": 2.0}],
    }
    return registry.publish(version, version_files(level), metadata)


def tamper(registry: Registry, version: str, model: str = "a") -> None:
    """Overwrite one pickle after publishing: its sha256 no longer matches the manifest."""
    uri = registry.version_uri(version).join("models", f"{model}.pkl")
    registry.storage.put_bytes(uri, registry.storage.get_bytes(uri) + b"tampered")
