"""The Flask application factory: settings in, an app with its store, engine and blueprints out.

It reads no environment: the entry points (``adaptml serve``, gunicorn's ``wsgi``) read it into the settings and
build the Dask engine; ``dask=None`` means no Dask, every batch predicted in-process.
"""

from __future__ import annotations

import logging
import re
import threading

from flask import Flask, Response

from adaptml.config import Config
from adaptml.registry import Registry
from adaptml.reload.hooks import init_reload
from adaptml.serving.api import blueprint as api_routes
from adaptml.serving.diagnostics_pages import blueprint as diagnostics_routes
from adaptml.serving.http_errors import LIMIT_SOURCE, error_response, register_error_handlers
from adaptml.serving.limits import init_limits
from adaptml.serving.loaded import LoadedModels
from adaptml.serving.metrics import Metrics
from adaptml.serving.ops import blueprint as ops_routes
from adaptml.serving.pages import blueprint as page_routes
from adaptml.serving.predict import BatchEngine
from adaptml.serving.results_cache import ResultCache
from adaptml.serving.settings import ServingSettings
from adaptml.serving.state import EXTENSION, VERSION_HEADER, ServingState
from adaptml.serving.store import FAST_PATH_WAIT_SECONDS, ModelStore
from adaptml.serving.validation import is_version_name
from adaptml.serving.versions_pages import blueprint as versions_routes

__all__ = ["create_app"]

log = logging.getLogger(__name__)
FIRST_LOAD_WAIT_SECONDS = 10.0  # then the app starts not ready and the load goes on in the background
# no quote, semicolon or line break in the name; "inline; filename=style.css" is how werkzeug sends static files
SAFE_DISPOSITION = re.compile(r'(attachment|inline); filename=("[\w.-]{1,250}"|[\w.-]{1,250})')
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def _refuse_unsafe_names(response: Response) -> Response:
    """A version name outside the registry's pattern is never written into a header (``X-Adaptml-Version``, a
    download's file name): such an answer becomes a 502 naming no name."""
    version = response.headers.get(VERSION_HEADER)
    disposition = response.headers.get("Content-Disposition")
    if (version is None or is_version_name(version)) and (
        disposition is None or SAFE_DISPOSITION.fullmatch(disposition)
    ):
        return response
    log.error(
        "refused an answer naming an invalid version (%d characters); check the registry's LATEST", len(version or "")
    )
    return error_response(502, "the served model version has an invalid name, so it is not sent; check the registry")


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
    return response


def _new_flask(settings: ServingSettings) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.config[LIMIT_SOURCE] = settings.max_content_length_source
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    return app


def _start_loading(store: ModelStore, metrics: Metrics, settings: ServingSettings) -> None:
    """Load the first version (briefly waited for), then keep retrying in the background until one is served."""
    store.on_swap(metrics.served)
    if store.current is not None:
        metrics.served(store.current)
    else:
        store.refresh_within(FIRST_LOAD_WAIT_SECONDS)  # a hanging S3 must not hold up the start
    if not store.ready:
        store.start_retry(initial=settings.retry_initial_seconds, maximum=settings.retry_max_seconds)


def _warm_engine(store: ModelStore, dask: BatchEngine | None) -> None:
    """Start (or connect to) the Dask cluster now and ship each served version's predictors to it, then its
    compiled fast paths once derived: the first large batch then waits for neither."""
    warm = getattr(dask, "warm", None)
    if warm is None:
        return

    def run(models: LoadedModels | None) -> None:
        warm(models)
        if models is not None and store.wait_fast_paths(FAST_PATH_WAIT_SECONDS):
            current = store.current
            if current is not None and current.version == models.version:
                warm(current)

    def start(models: LoadedModels | None) -> None:
        threading.Thread(target=run, args=(models,), name="adaptml-dask-warm", daemon=True).start()

    store.on_swap(start)
    start(store.current)


def create_app(
    config: ServingSettings | Config,
    *,
    registry: Registry | None = None,
    store: ModelStore | None = None,
    dask: BatchEngine | None = None,
) -> Flask:
    """Build the web app. It starts even when S3 is down or nothing is published: /readyz says why, and a
    background retry loads the first version as soon as it can."""
    settings = ServingSettings.from_config(config)
    results, runtime_dir = ResultCache(settings.resolved_results_dir()), settings.resolved_runtime_dir()
    app = _new_flask(settings)
    registry = registry or Registry(settings.registry, settings.project, keys=settings.keys)
    store = store or ModelStore(registry)
    metrics = Metrics()
    app.extensions[EXTENSION] = ServingState(settings, store, dask, metrics, results)
    for blueprint in (page_routes, api_routes, ops_routes, diagnostics_routes, versions_routes):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    init_limits(app, lambda: store.current.schema if store.current else None, max_rows=settings.serving.max_rows)
    metrics.init_app(app)
    app.after_request(_security_headers)
    app.after_request(_refuse_unsafe_names)  # runs first: the headers and metrics apply to its answer
    _start_loading(store, metrics, settings)
    _warm_engine(store, dask)
    init_reload(
        app,
        store,
        poll_seconds=settings.serving.poll_seconds,
        secret=settings.reload_secret,
        runtime_dir=runtime_dir,
    )
    return app
