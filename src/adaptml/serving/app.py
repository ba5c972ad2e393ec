"""The Flask application factory: configuration in, an app with its store, engine and blueprints out."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app

from adaptml.config import Config
from adaptml.registry import Registry, signing_key_from_env
from adaptml.reload.hooks import init_reload
from adaptml.serving.dask_engine import DaskEngine
from adaptml.serving.http_errors import register_error_handlers
from adaptml.serving.loaded import LoadedModels
from adaptml.serving.metrics import Metrics
from adaptml.serving.predict import BatchEngine, PredictionResult, predict_all
from adaptml.serving.results_cache import ResultCache
from adaptml.serving.settings import ServingSettings
from adaptml.serving.store import ModelStore
from adaptml.serving.threads import single_threaded

__all__ = ["ServingState", "add_openapi_path", "create_app", "serving_state"]

EXTENSION = "adaptml"
VERSION_HEADER = "X-Adaptml-Version"
FIRST_LOAD_WAIT_SECONDS = 10.0  # then the app starts not ready and the load goes on in the background
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


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


def serving_state() -> ServingState:
    state: ServingState = current_app.extensions[EXTENSION]
    return state


def add_openapi_path(app: Flask, path: str, item: dict[str, Any]) -> None:
    """Describe a route another part attaches (e.g. the reload endpoint) in /openapi.json and /docs."""
    state: ServingState = app.extensions[EXTENSION]
    state.openapi_paths[path] = item


def _default_store(settings: ServingSettings, registry: Registry | None) -> ModelStore:
    registry = registry or Registry(settings.registry, settings.project, signing_key=signing_key_from_env())
    return ModelStore(registry)


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
    return response


def create_app(
    config: ServingSettings | Config,
    *,
    registry: Registry | None = None,
    store: ModelStore | None = None,
    dask: BatchEngine | None = None,
) -> Flask:
    """Build the web app. It starts even when S3 is down or nothing is published: /readyz says why, and a
    background retry loads the first version as soon as it can."""
    from adaptml.serving.api import blueprint as api_routes
    from adaptml.serving.ops import blueprint as ops_routes
    from adaptml.serving.pages import blueprint as page_routes

    settings = ServingSettings.from_config(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    store = store or _default_store(settings, registry)
    metrics = Metrics()
    state = ServingState(
        settings=settings,
        store=store,
        dask=dask if dask is not None else DaskEngine.from_env(),
        metrics=metrics,
        results=ResultCache(settings.resolved_results_dir()),
    )
    app.extensions[EXTENSION] = state
    for blueprint in (page_routes, api_routes, ops_routes):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    metrics.init_app(app)
    app.after_request(_security_headers)
    store.on_swap(metrics.served)
    if store.current is not None:
        metrics.served(store.current)
    else:
        store.refresh_within(FIRST_LOAD_WAIT_SECONDS)  # a hanging S3 must not hold up the start
    if not store.ready:
        store.start_retry(initial=settings.retry_initial_seconds, maximum=settings.retry_max_seconds)
    init_reload(app, store)
    return app
