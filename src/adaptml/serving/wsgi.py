"""The WSGI entry for gunicorn: ``gunicorn 'adaptml.serving.wsgi:app'`` with ADAPTML_CONFIG naming the config.

The app is built on first access (PEP 562), not at import, so importing this module does no work.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["build"]  # and ``app``, built on first access

_lock = threading.Lock()
_app: Any | None = None


def build() -> Any:
    """The application for the config in ADAPTML_CONFIG, built once per process."""
    global _app
    with _lock:
        if _app is None:
            from adaptml.serving.app import create_app
            from adaptml.serving.settings import config_from_path_or_env

            _app = create_app(config_from_path_or_env(None))
        return _app


def __getattr__(name: str) -> Any:
    if name == "app":
        return build()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
