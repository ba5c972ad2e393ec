"""The ``/diagnostics`` page: a version's held-out figures, drawn in the browser from its ``diagnostics.json``.

Training computed every figure (``adaptml.training.diagnostics``); this route only hands the stored JSON to the page,
whose script draws it with the Plotly bundle the ``plotly`` package ships, served from here (no CDN).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request, send_file

from adaptml.serving.pages import models_or_page
from adaptml.serving.versions_pages import DIAGNOSTICS, version_book

__all__ = ["blueprint", "plotly_bundle"]

blueprint = Blueprint("diagnostics", __name__)
# Plotly sets inline styles on the elements it draws; scripts stay same-origin only
PLOTS_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


@cache
def plotly_bundle() -> Path:
    """The minified plotly.js inside the installed ``plotly`` package."""
    path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js not found at {path}: is the plotly package installed?")
    return path


@blueprint.get("/vendor/plotly.min.js")
def plotly_js() -> Response:
    response = send_file(plotly_bundle(), mimetype="text/javascript", max_age=7 * 24 * 3600, conditional=True)
    return response


def _figures(version: str | None) -> tuple[str, Any]:
    """The version shown (the served one unless ``version`` names another) and its diagnostics, or None."""
    served = models_or_page()
    if not version or version == served.version:
        data = served.files.get(DIAGNOSTICS)
        return served.version, json.loads(data) if data is not None else None
    if version not in version_book().registry.versions():
        abort(404, description=f"no published version named {version!r}")
    return version, version_book().diagnostics(version)


@blueprint.get("/diagnostics")
def diagnostics() -> Response:
    version, figures = _figures(request.args.get("version"))
    page = render_template("diagnostics.html", version=version, figures=figures, summary=_summary(figures))
    response = Response(page, mimetype="text/html")
    if figures is not None:
        response.headers["Content-Security-Policy"] = PLOTS_POLICY
    return response


@blueprint.get("/diagnostics.json")
def diagnostics_json() -> Response:
    version, figures = _figures(request.args.get("version"))
    if figures is None:
        abort(404, description=f"version {version} has no {DIAGNOSTICS}: it was published before diagnostics existed")
    return jsonify(figures)


def _summary(figures: Any) -> dict[str, Any] | None:
    """What the page says in words above the plots: the best model and which others are tied with it."""
    if not figures:
        return None
    comparison = figures.get("comparison") or {}
    rows = comparison.get("rows") or []
    tied = [row["model"] for row in rows if row.get("tied_with_best") and row["model"] != comparison.get("best")]
    return {"best": comparison.get("best"), "tied": tied, "rule": comparison.get("tie_rule", "")}


@blueprint.app_template_filter("filesize")
def filesize(value: Any) -> str:
    """Bytes in readable units: 950 B, 12.3 kB, 4.5 MB."""
    if not isinstance(value, int | float):
        return "–"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} GB"


@blueprint.app_template_filter("duration")
def duration(seconds: Any) -> str:
    """Seconds in readable units: 850 ms, 3.2 s, 4 min 10 s."""
    if not isinstance(seconds, int | float):
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


@blueprint.app_template_filter("per_thousand")
def per_thousand(milliseconds: Any) -> str:
    """Prediction cost per 1,000 rows, readable."""
    if not isinstance(milliseconds, int | float):
        return "–"
    return f"{duration(milliseconds / 1000)} per 1,000 rows"
