"""Operations routes: liveness, readiness, Prometheus metrics and the OpenAPI spec."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from adaptml.serving.openapi import openapi_spec
from adaptml.serving.state import serving_state

__all__ = ["blueprint"]

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers (models or not)."""
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> Response:
    """Readiness: 200 only with a verified version loaded; otherwise 503 saying why."""
    status = serving_state().store.status()
    response = jsonify(status)
    response.status_code = 200 if status["ready"] else 503
    return response


@blueprint.get("/ping")
def ping() -> Response:
    """MLflow's readiness probe, for MLflow tooling."""
    ready = serving_state().store.ready
    return Response("\n", status=200 if ready else 503, mimetype="application/json")


@blueprint.get("/metrics")
def metrics() -> Response:
    body, content_type = serving_state().metrics.exposition()
    return Response(body, content_type=content_type)


@blueprint.get("/openapi.json")
def openapi() -> Response:
    state = serving_state()
    current = state.store.current
    return jsonify(openapi_spec(current.schema if current else None, extra_paths=state.openapi_paths))
