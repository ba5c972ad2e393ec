"""``adaptml serve``: the web application on Flask's threaded development server (gunicorn runs it in Docker)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from adaptml.serving.app import create_app
from adaptml.serving.settings import config_from_path_or_env
from adaptml.serving.store import ModelStore

__all__ = ["serve_command"]


def _describe(store: ModelStore) -> str:
    status = store.status()
    if status["ready"]:
        names = ", ".join(model["name"] for model in status["models"])
        return f"serving {status['project']} version [bold]{status['version']}[/] ({names})"
    return f"[yellow]not ready yet[/]: {status['reason']} (retrying in the background)"


def serve_command(
    config_path: str | Path | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    console: Console | None = None,
) -> None:
    """Load the config (``--config`` or ADAPTML_CONFIG), build the app and serve it until Ctrl-C."""
    console = console or Console()
    config = config_from_path_or_env(config_path)
    app = create_app(config)
    store: ModelStore = app.extensions["adaptml"].store
    console.print(_describe(store), highlight=False)
    console.print(f"web app on [bold]http://{host}:{port}/[/] (API docs at /docs; Ctrl-C to stop)", highlight=False)
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False, debug=False)
    finally:
        store.close()
