"""``adaptml serve``: the web application on Flask's threaded development server (gunicorn runs it in Docker)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from rich.console import Console

from adaptml.config import Config
from adaptml.registry import Registry
from adaptml.reload.host_cache import HostCachedStorage
from adaptml.serving.app import create_app
from adaptml.serving.dask_engine import DaskEngine
from adaptml.serving.settings import Environment, ServingSettings
from adaptml.serving.state import app_state
from adaptml.serving.store import ModelStore

__all__ = ["batch_engine", "production_app", "serve_command"]


def production_app(config: Config, environment: Environment) -> Flask:
    """The app as ``adaptml serve`` and gunicorn run it: the config plus what the environment says, and batches on
    the Dask scheduler at ``DASK_SCHEDULER_ADDRESS`` (a LocalCluster, started on first use, when it is unset).

    Version files are downloaded once per host into the runtime directory the host's workers share
    (``reload/host_cache.py``), in parallel; the registry verifies them in each worker as always."""
    settings = ServingSettings.from_config(config, environment)
    registry = Registry(settings.registry, settings.project, keys=settings.keys)
    cached = HostCachedStorage(registry.storage, registry.project_uri.join("versions"), host_cache_dir(settings))
    registry = Registry(settings.registry, settings.project, keys=settings.keys, storage=cached)
    return create_app(settings, registry=registry, dask=batch_engine(settings, environment))


def batch_engine(settings: ServingSettings, environment: Environment) -> DaskEngine | None:
    """The Dask engine for batches of more than ``serving.dask_threshold`` rows; none when no request can be that
    large (the threshold at or above ``serving.max_rows``), so no cluster is started and warmed for nothing."""
    if settings.serving.dask_threshold >= settings.serving.max_rows:
        return None
    return DaskEngine(environment.dask_scheduler)


def host_cache_dir(settings: ServingSettings) -> Path:
    return settings.resolved_runtime_dir() / "versions"


def _describe(store: ModelStore) -> str:
    status = store.status()
    if status["ready"]:
        names = ", ".join(model["name"] for model in status["models"])
        return f"serving {status['project']} version [bold]{status['version']}[/] ({names})"
    return f"[yellow]not ready yet[/]: {status['reason']} (retrying in the background)"


def serve_command(
    config: Config,
    environment: Environment,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    console: Console | None = None,
) -> None:
    """Build the production app and serve it until Ctrl-C."""
    console = console or Console()
    app = production_app(config, environment)
    store = app_state(app).store
    console.print(_describe(store), highlight=False)
    console.print(f"web app on [bold]http://{host}:{port}/[/] (API docs at /docs; Ctrl-C to stop)", highlight=False)
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False, debug=False)
    finally:
        store.close()
