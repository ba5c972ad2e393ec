"""What the routes of one app share, and how a route finds it; the blueprints import this, never the factory."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from adaptml.serving.loaded import LoadedModels
from adaptml.serving.metrics import Metrics
from adaptml.serving.predict import BatchEngine, PredictionResult, predict_all
from adaptml.serving.results_cache import ResultCache
from adaptml.serving.settings import ServingSettings
from adaptml.serving.store import ModelStore
from adaptml.serving.threads import single_threaded

__all__ = ["EXTENSION", "VERSION_HEADER", "ServingState", "add_openapi_path", "app_state", "serving_state"]

EXTENSION = "adaptml"  # the key of the ServingState in ``app.extensions``
VERSION_HEADER = "X-Adaptml-Version"


@dataclass
class ServingState:
    """What every route of one app shares: settings, the model store, the batch engine, metrics, downloads."""

    settings: ServingSettings
    store: ModelStore
    dask: BatchEngine | None
    metrics: Metrics
    results: ResultCache
    openapi_paths: dict[str, Any] = field(default_factory=dict)

    def predict(self, models: LoadedModels, frame: Any, *, model_names: list[str] | None = None) -> PredictionResult:
        """Predict and count; small batches run single-threaded, since spinning up OpenMP/BLAS thread pools
        costs more than a few rows take (and concurrent requests already use the cores)."""
        small = len(frame) <= self.settings.serving.dask_threshold
        with single_threaded() if small else contextlib.nullcontext():
            result = predict_all(
                models,
                frame,
                dask=self.dask,
                dask_threshold=self.settings.serving.dask_threshold,
                model_names=model_names,
            )
        self.metrics.observe(result)
        return result


def app_state(app: Flask) -> ServingState:
    """The state ``create_app`` attached to ``app``."""
    state: ServingState = app.extensions[EXTENSION]
    return state


def serving_state() -> ServingState:
    """The state of the app handling the current request."""
    return app_state(current_app)


def add_openapi_path(app: Flask, path: str, item: dict[str, Any]) -> None:
    """Describe a route another part attaches (e.g. the reload endpoint) in /openapi.json and /docs."""
    app_state(app).openapi_paths[path] = item
