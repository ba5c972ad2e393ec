"""What the routes of one app share, and how a route finds it; the blueprints import this, never the factory."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from adaptml.serving.compiled.estimators import TABLE_ROWS
from adaptml.serving.loaded import LoadedModels
from adaptml.serving.metrics import Metrics
from adaptml.serving.predict import BatchEngine, PredictionResult, predict_all
from adaptml.serving.results_cache import ResultCache
from adaptml.serving.settings import ServingSettings
from adaptml.serving.store import ModelStore
from adaptml.serving.threads import THREADED_ROWS, single_threaded

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
        costs more than a few rows take (and concurrent requests already use the cores); see ``_limits_threads``."""
        limit = _limits_threads(models, len(frame), model_names, self.settings.serving.dask_threshold)
        with single_threaded() if limit else contextlib.nullcontext():
            result = predict_all(
                models,
                frame,
                dask=self.dask,
                dask_threshold=self.settings.serving.dask_threshold,
                model_names=model_names,
            )
        self.metrics.observe(result)
        return result


def _limits_threads(models: LoadedModels, rows: int, model_names: list[str] | None, dask_threshold: int) -> bool:
    """Whether a request of ``rows`` rows runs with one library thread: a batch small enough to stay in-process and
    below ``THREADED_ROWS`` (a larger in-process batch, with Dask off, may use every core), unless the compiled paths
    serve it entirely without thread pools."""
    small = rows <= dask_threshold and rows < THREADED_ROWS
    return small and not _all_compiled(models, rows, model_names)


def _all_compiled(models: LoadedModels, rows: int, model_names: list[str] | None) -> bool:
    """Whether every requested model has a fast path and the request is small enough for its one-thread route
    (tree tables, one-thread boosters, a dot product): then no thread pool is started, and none needs limiting."""
    if rows > TABLE_ROWS or models.fast_paths is None:
        return False
    names = model_names if model_names is not None else list(models.models)
    return all(models.fast_path(name).enabled for name in names if name in models.models)


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
