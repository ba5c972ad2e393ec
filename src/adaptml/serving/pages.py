"""Server-rendered pages: the form and upload, results with a CSV download, leaderboard, EDA report, docs."""

from __future__ import annotations

import io
import mimetypes
from typing import Any

import pandas as pd
from flask import Blueprint, Response, abort, g, make_response, render_template, request

from adaptml.errors import InputError
from adaptml.serving.api import download_name
from adaptml.serving.explain import explain_model
from adaptml.serving.forms import form_fields
from adaptml.serving.loaded import LoadedModels
from adaptml.serving.openapi import openapi_spec
from adaptml.serving.parsing import parse_csv, parse_form
from adaptml.serving.predict import PredictionResult
from adaptml.serving.state import serving_state
from adaptml.serving.summary import summarize
from adaptml.serving.tables import display_table, error_summary, model_cards, results_frame, to_python, to_safe_csv

__all__ = ["BASELINE", "blueprint", "models_or_page"]

blueprint = Blueprint("pages", __name__)
BASELINE = "dummy"  # training's baseline (training.zoo.BASELINE): on the leaderboard, never offered as an answer
EDA_POLICY = "default-src 'self' data: blob: 'unsafe-inline' 'unsafe-eval'; connect-src 'none'; frame-ancestors 'self'"


@blueprint.app_context_processor
def _served() -> dict[str, Any]:
    state = serving_state()
    return {
        "served": g.get("adaptml_models") or state.store.current,
        "project": state.settings.project,
        "dask_threshold": state.settings.serving.dask_threshold,
        "max_upload_mb": f"{state.settings.serving.max_upload_mb:g}",
    }


@blueprint.app_template_filter("cell")
def _format_cell(value: Any) -> str:
    """Leaderboard values: metrics to 5 significant digits, integers as they are, missing as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.5g}"
    return str(value)


def models_or_page() -> LoadedModels:
    """The served version; without one, the not-ready page (503) explains why and refreshes itself."""
    store = serving_state().store
    current = store.current
    if current is None:
        page = render_template("not_ready.html", status=store.status())
        abort(make_response(page, 503))
    g.adaptml_models = current  # the page header names the same version the page was computed from
    return current


@blueprint.get("/")
def index() -> str:
    models = models_or_page()
    return render_template("index.html", fields=form_fields(models.schema), models=models)


def _explanations(models: LoadedModels, result: PredictionResult) -> dict[str, Any]:
    """For a single record, each model's top contributions (the bars under its card), scaled to the largest."""
    if result.row_count != 1:
        return {}
    explained = {}
    for info in result.models:
        (why,) = explain_model(info.name, models.models[info.name], result.inputs)
        largest = max((abs(c["contribution"]) for c in why.get("contributions", ())), default=0.0)
        explained[info.name] = {**why, "largest": largest or 1.0}
    return explained


def _results_page(result: PredictionResult, models: LoadedModels) -> str:
    state = serving_state()
    token = state.results.put(to_safe_csv(results_frame(result)))
    table = display_table(result, state.settings.serving.preview_rows, inputs_first=True)
    return render_template(
        "results.html",
        result=result,
        table=table,
        batch_summary=summarize(result, exclude={BASELINE}) if result.row_count > 1 else None,
        cards=[card for card in model_cards(result) if card.info.name != BASELINE],
        explanations=_explanations(models, result),
        errors=error_summary(result),
        token=token,
        filename=download_name(result),
    )


@blueprint.post("/predict")
def predict_form() -> str | Response:
    """Predict the form's record; a value that cannot be read re-renders the form with the user's input and why."""
    models = models_or_page()
    frame = parse_form(request.form, models.schema.names)
    try:
        result = serving_state().predict(models, frame)
    except InputError as error:
        submitted = {name: request.form.get(name, "") for name in models.schema.names}
        page = render_template(
            "index.html", fields=form_fields(models.schema, submitted), models=models, form_error=error.message
        )
        return make_response(page, error.status_code)
    return _results_page(result, models)


@blueprint.post("/upload")
def upload() -> str:
    models = models_or_page()
    file = request.files.get("file")
    if file is None or not file.filename:
        raise InputError("choose a CSV file to upload")
    frame = parse_csv(file.read(), max_rows=serving_state().settings.serving.max_rows, source="the uploaded file")
    return _results_page(serving_state().predict(models, frame), models)


@blueprint.get("/template.csv")
def template_csv() -> Response:
    """A CSV with the schema's columns and its example record, to fill in for a batch."""
    models = models_or_page()
    response = Response(to_safe_csv(models.example_frame()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{models.project}-template.csv"'
    return response


@blueprint.get("/results/<token>.csv")
def download(token: str) -> Response:
    data = serving_state().results.get(token)
    if data is None:
        abort(404, description="this result has expired or never existed: predict again to download it")
    response = Response(data, mimetype="text/csv")
    name = request.args.get("name", "predictions.csv")
    safe_name = "".join(c for c in name if c.isalnum() or c in "._-")[:120] or "predictions.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    return response


def leaderboard_rows(models: LoadedModels) -> tuple[list[str], list[dict[str, Any]]]:
    """The ranked leaderboard: metrics.csv in its own column order, else the manifest's; rank, model, metric first."""
    rows = models.leaderboard
    if "metrics.csv" in models.files:
        try:
            table = pd.read_csv(io.BytesIO(models.files["metrics.csv"]))
            rows = [{str(k): to_python(v) for k, v in row.items()} for row in table.to_dict("records")]
        except (ValueError, pd.errors.ParserError):
            pass  # a malformed metrics.csv: the manifest's copy of the leaderboard still shows
    present = list(dict.fromkeys(key for row in rows for key in row))
    first = [key for key in ("rank", "model", models.metric) if key in present]
    return first + [key for key in present if key not in first], rows


@blueprint.get("/leaderboard")
def leaderboard() -> str:
    models = models_or_page()
    columns, rows = leaderboard_rows(models)
    return render_template(
        "leaderboard.html",
        models=models,
        rows=rows,
        columns=columns,
        has_eda="eda/report.html" in models.files,
        has_diagnostics="diagnostics.json" in models.files,
    )


@blueprint.get("/leaderboard.csv")
def leaderboard_csv() -> Response:
    models = models_or_page()
    if "metrics.csv" not in models.files:
        abort(404, description=f"version {models.version} has no metrics.csv")
    response = Response(models.files["metrics.csv"], mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{models.project}-{models.version}-metrics.csv"'
    return response


@blueprint.get("/eda/", defaults={"path": "report.html"})
@blueprint.get("/eda/<path:path>")
def eda(path: str) -> Response:
    """The served version's EDA report and its plots, straight from the verified version's files."""
    models = models_or_page()
    data = models.files.get(f"eda/{path}")
    if data is None:
        abort(404, description=f"version {models.version} has no EDA file named {path!r}")
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = Response(data, mimetype=kind)
    response.headers["Content-Security-Policy"] = EDA_POLICY
    return response


@blueprint.get("/docs")
def docs() -> str:
    state = serving_state()
    current = state.store.current
    spec = openapi_spec(current.schema if current else None, extra_paths=state.openapi_paths)
    return render_template("docs.html", spec=spec, example=current.schema.example if current else None)
