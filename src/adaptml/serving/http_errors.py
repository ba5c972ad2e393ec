"""One place that turns errors into responses: JSON for API clients, an HTML page for browsers."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from adaptml.errors import AdaptmlError, BadCells

__all__ = ["error_response", "register_error_handlers", "too_large_response", "wants_json"]

log = logging.getLogger(__name__)

LIMIT_SOURCE = "ADAPTML_BODY_LIMIT_SOURCE"  # app.config: the setting the byte limit comes from
JSON_BLUEPRINTS = frozenset({"api", "ops", "reload"})
ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_PARAMETER_VALUE",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "TEMPORARILY_UNAVAILABLE",
}


def wants_json() -> bool:
    """API, ops and reload routes (and any ``/api/`` or ``.json`` path) always answer JSON; pages answer HTML unless
    the client prefers JSON."""
    if request.blueprint in JSON_BLUEPRINTS or request.path.startswith("/api/") or request.path.endswith(".json"):
        return True
    accept = request.accept_mimetypes
    return accept.best_match(["text/html", "application/json"]) == "application/json" and (
        accept["application/json"] > accept["text/html"]
    )


def error_response(status: int, message: str, details: Any = None, *, extra: dict[str, Any] | None = None) -> Response:
    """An error as MLflow-compatible JSON (``error_code``, ``message``, and ``extra`` keys such as ``problems``) or
    as the styled error page."""
    if wants_json():
        body: dict[str, Any] = {"error_code": ERROR_CODES.get(status, "ERROR"), "message": message, "status": status}
        if details:
            body["details"] = details
        body.update(extra or {})
        response = jsonify(body)
    else:
        problems = (extra or {}).get("problems") or []
        page = render_template("error.html", status=status, message=message, problems=problems)
        response = current_app.make_response(page)
    response.status_code = status
    return response


def too_large_response() -> Response:
    """The 413 for a body over the app's byte limit, naming the limit and the setting that sets it."""
    limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
    source = current_app.config.get(LIMIT_SOURCE, "serving.max_upload_mb")
    message = f"the request body is larger than the {limit / 1024 / 1024:.3g} MB limit ({source}): {limit:,} bytes"
    return error_response(413, message, {"limit": "request_bytes", "request_bytes": limit})


def _bad_cells_response(error: BadCells, details: dict[str, Any] | None) -> Response:
    """Every bad cell up to the cap: JSON lists them in ``problems`` (with ``problem_count``, all of them); the page
    lists each one, since a user fixes the whole file before uploading it again."""
    extra = {"problems": error.problems, "problem_count": error.total}
    if wants_json() or error.total <= 1:
        return error_response(error.status_code, error.message, details, extra=extra)
    more = f" (the first {len(error.problems)} are listed)" if error.total > len(error.problems) else ""
    message = f"{error.total:,} cells cannot be read{more}; rows are counted from 1, the header not counted:"
    return error_response(error.status_code, message, details, extra=extra)


def register_error_handlers(app: Flask) -> None:
    """Translate adaptml errors (each knows its status), HTTP errors and anything unexpected, once."""

    @app.errorhandler(AdaptmlError)
    def _adaptml_error(error: AdaptmlError) -> Response:
        details = error.details if isinstance(error.details, dict) else None
        if isinstance(error, BadCells):
            return _bad_cells_response(error, details)
        return error_response(error.status_code, error.message, details)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        if isinstance(error, RequestEntityTooLarge):
            return too_large_response()
        response = error_response(error.code or 500, error.description or error.name)
        if error.code == 405 and (allowed := error.get_response().headers.get("Allow")):
            response.headers["Allow"] = allowed
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error: the server could not answer this request (see its log)")
