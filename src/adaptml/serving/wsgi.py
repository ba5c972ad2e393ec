"""The WSGI entry for gunicorn: ``gunicorn 'adaptml.serving.wsgi:app'`` with ADAPTML_CONFIG naming the config.

An entry point: it reads the environment (once) and passes it down. The app is built on first access (PEP 562),
not at import, so importing this module does no work.
"""

from __future__ import annotations

import os
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
            from adaptml.serving.server import production_app
            from adaptml.serving.settings import Environment

            environment = Environment.read(os.environ)
            _app = production_app(environment.config(None), environment)
        return _app


def __getattr__(name: str) -> Any:
    if name == "app":
        return build()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
