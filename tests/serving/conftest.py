"""Fixtures for the serving tests: tiny real sklearn pipelines published to the embedded S3 registry.

Chain: bundle (fitted once per session) -> registry (fresh bucket) -> published version -> app -> client.
Every pipeline starts with SchemaCoercer, like the ones training publishes; the ridge models one-hot encode
``city`` with ``handle_unknown="error"``, so an unseen city makes exactly that model fail on that row.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from adaptml.config import ServingConfig
from adaptml.registry import Registry
from adaptml.schema import SchemaCoercer, infer_schema
from adaptml.serving import ServingSettings, create_app
from adaptml.serving.dask_engine import DaskEngine

PROJECT = "homes"
CITIES = ("paris", "lyon", "nice", "lille")
NAT_AS_INT = np.iinfo(np.int64).min
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000 1f15c4890000000d4944415478da63f8cfc0f01f0005000201"
    "e5279a5e0000000049454e44ae426082".replace(" ", "")
)


def synthetic_frame(rows: int = 160, seed: int = 0) -> pd.DataFrame:
    """Raw records as a user would upload them: numbers, a category, a date, and two targets."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(20, 200, rows).round(1)
    rooms = rng.integers(1, 7, rows)
    city = rng.choice(CITIES, rows)
    listed = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), unit="D")
    premium = pd.Series(city).map({"paris": 3.0, "lyon": 1.5, "nice": 2.0, "lille": 1.0}).to_numpy()
    price = size * premium + rooms * 10 + rng.normal(0, 5, rows)
    segment = np.where(price > 300, "high", np.where(price > 150, "mid", "low"))
    return pd.DataFrame(
        {
            "size": size,
            "rooms": rooms,
            "city": city,
            "listed": listed.strftime("%Y-%m-%d"),
            "price": price.round(2),
            "segment": segment,
        }
    )


def _features(strict_city: bool) -> ColumnTransformer:
    dates = make_pipeline(
        FunctionTransformer(np.asarray, kw_args={"dtype": "int64"}),
        SimpleImputer(missing_values=NAT_AS_INT, strategy="median"),
        StandardScaler(),
    )
    cities = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="error" if strict_city else "ignore"),
    )
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["size", "rooms"]),
            ("city", cities, ["city"]),
            ("date", dates, ["listed"]),
        ]
    )


def _estimators(task: str) -> dict[str, tuple[Any, bool]]:
    if task == "regression":
        return {
            "ridge": (Ridge(alpha=1.0), True),
            "random_forest": (RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0, n_jobs=1), False),
            "hist_gradient_boosting": (HistGradientBoostingRegressor(max_iter=30, random_state=0), False),
        }
    return {
        "logistic_regression": (LogisticRegression(max_iter=1000), True),
        "random_forest": (RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0, n_jobs=1), False),
    }


@dataclass
class Bundle:
    """A publishable version: its files and manifest metadata, plus the fitted pipelines to compare against."""

    task: str
    target: str
    frame: pd.DataFrame
    files: dict[str, bytes]
    metadata: dict[str, Any]
    pipelines: dict[str, Pipeline] = field(repr=False)

    @property
    def features(self) -> pd.DataFrame:
        return self.frame.drop(columns=["price", "segment"])


def _score(task: str, truth: pd.Series, predicted: np.ndarray) -> dict[str, float]:
    if task == "regression":
        error = truth.to_numpy() - predicted
        return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}
    return {"accuracy": float(np.mean(truth.to_numpy() == predicted))}


def build_bundle(task: str, *, rows: int = 160, seed: int = 0) -> Bundle:
    """The task's tiny pipelines fitted on a synthetic frame, and the files training would publish.

    Fitted once per session for each (task, rows, seed): tests in several packages publish the same bundle. Each
    caller gets its own frame and dicts; the fitted pipelines are shared (tests only predict with them).
    """
    fitted = _fit_bundle(task, rows, seed)
    return replace(
        fitted,
        frame=fitted.frame.copy(),
        files=dict(fitted.files),
        metadata=deepcopy(fitted.metadata),
        pipelines=dict(fitted.pipelines),
    )


@cache
def _fit_bundle(task: str, rows: int, seed: int) -> Bundle:
    frame = synthetic_frame(rows, seed)
    target = "price" if task == "regression" else "segment"
    raw = frame.drop(columns=["segment" if task == "regression" else "price"])
    classes = sorted(frame["segment"].unique()) if task == "classification" else []
    schema = infer_schema(raw, target=target, task=task, classes=classes)
    train, test = raw.iloc[: rows * 3 // 4], raw.iloc[rows * 3 // 4 :]
    metric, higher = ("rmse", False) if task == "regression" else ("accuracy", True)
    pipelines, scores = {}, {}
    for name, (estimator, strict_city) in _estimators(task).items():
        pipeline = Pipeline(
            [("coerce", SchemaCoercer(schema.to_dict())), ("features", _features(strict_city)), ("model", estimator)]
        )
        pipeline.fit(train.drop(columns=[target]), train[target])
        pipelines[name] = pipeline
        scores[name] = _score(task, test[target], pipeline.predict(test.drop(columns=[target])))
    ordered = sorted(scores, key=lambda n: scores[n][metric], reverse=higher)
    leaderboard = [{"rank": rank, "model": name, **scores[name]} for rank, name in enumerate(ordered, start=1)]
    files = {
        "metrics.csv": pd.DataFrame(leaderboard).to_csv(index=False).encode(),
        "schema.json": schema.to_json().encode(),
        "eda/report.html": b"<!doctype html><title>EDA</title><h1>EDA report</h1><img src='plots/target.png'>",
        "eda/plots/target.png": PNG_1PX,
        **{f"models/{name}.pkl": pickle.dumps(pipeline) for name, pipeline in pipelines.items()},
    }
    metadata = {
        "leaderboard": leaderboard,
        "metric": metric,
        "higher_is_better": higher,
        "task": task,
        "classes": classes,
    }
    return Bundle(task, target, frame, files, metadata, pipelines)


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


# -- fixtures -------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def regression_bundle() -> Bundle:
    return build_bundle("regression")


@pytest.fixture(scope="session")
def classification_bundle() -> Bundle:
    return build_bundle("classification")


@pytest.fixture(scope="session")
def dask_engine() -> Iterator[DaskEngine]:
    """One real LocalCluster (2 worker processes, 1 thread each) for the whole session."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=":0")
    client = Client(cluster, set_as_default=False)
    try:
        yield DaskEngine(client=client)
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def registry(storage, bucket) -> Registry:
    return Registry(f"s3://{bucket}/registry", PROJECT, storage=storage)


@pytest.fixture
def published(registry: Registry, regression_bundle: Bundle) -> Bundle:
    registry.publish("v1", regression_bundle.files, regression_bundle.metadata)
    return regression_bundle


def make_settings(registry: Registry, results_dir: Path, **serving: Any) -> ServingSettings:
    limits = {"max_rows": 500, "max_upload_mb": 1.0, "preview_rows": 5, **serving}
    return ServingSettings(
        registry=str(registry.root),
        project=registry.project,
        serving=ServingConfig(**limits),
        results_dir=str(results_dir),
        retry_initial_seconds=0.2,
        retry_max_seconds=0.5,
    )


@pytest.fixture
def settings_for(tmp_path: Path) -> Any:
    """A factory: ServingSettings for a registry, with small limits (overridable) and a private results dir."""

    def build(registry: Registry, **serving: Any) -> ServingSettings:
        return make_settings(registry, tmp_path / "results", **serving)

    return build


@pytest.fixture
def settings(registry: Registry, settings_for: Any) -> ServingSettings:
    return settings_for(registry)


@pytest.fixture
def app(settings: ServingSettings, registry: Registry, published: Bundle, dask_engine: DaskEngine) -> Iterator[Any]:
    app = create_app(settings, registry=registry, dask=dask_engine)
    yield app
    app.extensions["adaptml"].store.close()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def classification_client(registry: Registry, settings_for: Any, classification_bundle: Bundle) -> Iterator[Any]:
    """A test client of an app serving the classification bundle (no Dask engine)."""
    registry.publish("v1", classification_bundle.files, classification_bundle.metadata)
    app = create_app(settings_for(registry), registry=registry)
    yield app.test_client()
    app.extensions["adaptml"].store.close()
