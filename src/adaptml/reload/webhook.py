"""An HTTP front for the reload Lambda handler, for MinIO's webhook notifications (docker-compose).

MinIO POSTs the same S3-event JSON that AWS hands a Lambda; this app passes it to ``handler`` unchanged. Run it with
``gunicorn 'adaptml.reload.webhook:create_webhook_app()'``. When ``ADAPTML_WEBHOOK_TOKEN`` is set, requests must carry
it as MinIO's ``auth_token`` does (``Authorization: Bearer <token>``).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify, request

from adaptml.reload import handler as lambda_handler

__all__ = ["TOKEN_ENV", "create_webhook_app"]

TOKEN_ENV = "ADAPTML_WEBHOOK_TOKEN"
MAX_EVENT_BYTES = 1024 * 1024


def create_webhook_app(
    *,
    invoke: Callable[[Mapping[str, Any], Any], dict[str, Any]] | None = None,
    token: str | None = None,
) -> Flask:
    """The webhook app; ``invoke`` defaults to the Lambda ``handler``, ``token`` to ``$ADAPTML_WEBHOOK_TOKEN``."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_EVENT_BYTES
    expected = token if token is not None else os.environ.get(TOKEN_ENV, "")

    def run_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return (invoke or lambda_handler.handler)(event, context)

    @app.get("/")
    @app.get("/healthz")
    def alive() -> tuple[Response, int]:
        # MinIO probes the endpoint before it accepts the target.
        return jsonify(status="ok"), 200

    @app.post("/")
    @app.post("/events")
    def events() -> tuple[Response, int]:
        if expected and not _authorized(request.headers.get("Authorization", ""), expected):
            return jsonify(error="missing or wrong Authorization token"), 401
        event = request.get_json(silent=True)
        if not isinstance(event, dict):
            return jsonify(error="expected an S3 event as a JSON object"), 400
        return jsonify(run_handler(event, None)), 200

    return app


def _authorized(header: str, token: str) -> bool:
    presented = header.removeprefix("Bearer ").strip()
    return hmac.compare_digest(presented.encode("utf-8"), token.encode("utf-8"))
