"""The REST API: routes parse the request, call the prediction core once, and shape the response."""

from __future__ import annotations

from typing import Any

import pandas as pd
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from adaptml.errors import InputError
from adaptml.serving.explain import MAX_EXPLAIN_ROWS, explain_model
from adaptml.serving.limits import is_streamed_upload
from adaptml.serving.loaded import LoadedModels
from adaptml.serving.parsing import (
    CSV,
    CSV_TYPES,
    JSON,
    MULTIPART,
    Records,
    media_type,
    parse_body_input,
    parse_csv,
)
from adaptml.serving.predict import PredictionResult
from adaptml.serving.state import VERSION_HEADER, serving_state
from adaptml.serving.streaming import STREAM_ROWS, stream_answer, stream_frame
from adaptml.serving.tables import mlflow_payload, result_payload, results_frame, to_safe_csv

__all__ = ["blueprint", "download_name", "request_frame"]

blueprint = Blueprint("api", __name__)


def request_frame(max_rows: int) -> pd.DataFrame | Records:
    """The records of a JSON body (as checked dicts), or a CSV body or multipart upload (as a frame)."""
    if media_type(request.content_type) == MULTIPART:
        upload = request.files.get("file") or next(iter(request.files.values()), None)
        if upload is None:
            raise InputError("no file in the multipart upload: send the CSV in a form field named 'file'")
        return parse_csv(upload.read(), max_rows=max_rows, source="the uploaded file")
    return parse_body_input(whole_body(), request.content_type, max_rows=max_rows)


def whole_body() -> bytes:
    """The request body; a streamed (chunked) body that reaches the size limit is a 413, not cut at the limit.

    Without a Content-Length, werkzeug stops reading at MAX_CONTENT_LENGTH and returns what it read, which would
    predict a truncated batch (or choke on its cut last row).
    """
    data = request.get_data(cache=False)
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.content_length is None and limit is not None and len(data) >= limit:
        raise RequestEntityTooLarge()
    return data


def download_name(result: PredictionResult) -> str:
    return f"{result.project}-{result.version}-predictions.csv"


def csv_response(result: PredictionResult) -> Response:
    response = Response(to_safe_csv(results_frame(result)), mimetype=CSV)
    response.headers["Content-Disposition"] = f'attachment; filename="{download_name(result)}"'
    return response


def _wants_csv() -> bool:
    if request.headers.get("Accept", "*/*") in ("*/*", JSON):  # the common answers, without parsing the header
        return False
    accept = request.accept_mimetypes
    return accept.best_match([JSON, CSV]) == CSV and accept[CSV] > accept[JSON]


@blueprint.post("/api/v1/predict")
def predict() -> Response:
    """Every model's predictions for one or many records, as JSON (or CSV when asked; streamed for big batches)."""
    state = serving_state()
    models = state.store.get()
    if media_type(request.content_type) in CSV_TYPES and is_streamed_upload():
        # a big CSV body (JSON never is): read, scored and answered batch by batch (streaming.py)
        answer = stream_answer(state, models, request.stream)
        if isinstance(answer, Response):
            return answer
        given = parse_body_input(answer, request.content_type, max_rows=state.settings.serving.max_rows)
    else:
        given = request_frame(state.settings.serving.max_rows)
    wants_csv = _wants_csv()
    if wants_csv and len(given) > STREAM_ROWS:  # scored batch by batch in threads, as a streamed upload is
        return stream_frame(state, models, given if isinstance(given, pd.DataFrame) else given.frame())
    explain = bool(request.query_string) and request.args.get("explain", "").lower() in ("true", "1", "yes")
    if explain and len(given) > MAX_EXPLAIN_ROWS:
        raise InputError(
            f"explain=true takes at most {MAX_EXPLAIN_ROWS} rows (explanations run the full pipelines); "
            f"this request has {len(given)}",
            details={"limit": "explain_rows", "explain_rows": MAX_EXPLAIN_ROWS},
        )
    result = state.predict(models, given)
    if wants_csv:
        response = csv_response(result)
    else:
        payload = with_metrics(result_payload(result), result)
        response = jsonify(with_explanations(payload, models, result) if explain else payload)
    response.headers[VERSION_HEADER] = result.version
    return response


def with_explanations(payload: dict[str, Any], models: LoadedModels, result: PredictionResult) -> dict[str, Any]:
    """The payload with each row's top feature contributions per model (``serving/explain.py``)."""
    per_model = {info.name: explain_model(info.name, models.models[info.name], result.inputs) for info in result.models}
    for index, row in enumerate(payload["rows"]):
        row["explanations"] = {name: rows[index] for name, rows in per_model.items()}
    return payload


def with_metrics(payload: dict[str, Any], result: PredictionResult) -> dict[str, Any]:
    """The payload with each model's metrics on the batch, when the batch carried the target column."""
    if result.target_metrics is not None:
        payload["metrics"] = result.target_metrics.to_dict()
    return payload


@blueprint.post("/invocations")
def invocations() -> Response:
    """MLflow's scoring protocol, answered by the best-ranked model."""
    state = serving_state()
    models = state.store.get()
    result = state.predict(models, request_frame(state.settings.serving.max_rows), model_names=[models.best])
    best = result.outputs[0]
    if best.errors:
        row = min(best.errors)
        raise InputError(
            f"row {row + 1}: model {best.name} could not predict this record ({best.errors[row]})",
            details={"row": row + 1},
        )
    response = jsonify(mlflow_payload(result))
    response.headers[VERSION_HEADER] = result.version
    return response


@blueprint.get("/api/v1/models")
def models() -> Response:
    """The served version, its models with rank and metric, its leaderboard, and the last refusal."""
    store = serving_state().store
    current = store.current
    body = store.status()
    if current is not None:
        body.update(
            task=current.task,
            metric=current.metric,
            higher_is_better=current.manifest.get("higher_is_better"),
            best_model=current.best,
            published_at=current.manifest.get("published_at"),
            leaderboard=current.leaderboard,
        )
    response = jsonify(body)
    if current is not None:
        response.headers[VERSION_HEADER] = current.version
    return response


@blueprint.get("/api/v1/schema")
def schema() -> Response:
    """The input schema of the served version: columns, kinds, ranges, categories and an example record."""
    current = serving_state().store.get()
    response = jsonify({"project": current.project, "version": current.version, **current.schema.to_dict()})
    response.headers[VERSION_HEADER] = current.version
    return response
