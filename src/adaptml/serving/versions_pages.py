"""Every published version: the ``/versions`` page (with a side-by-side comparison) and ``GET /api/v1/versions``.

Manifests are read through the app's registry. Versions are immutable, so each manifest (and each version's
``diagnostics.json``, checked against the sha256 its manifest lists) is fetched once per app and kept.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template, request

from adaptml.errors import AdaptmlError, ObjectNotFound
from adaptml.registry import Registry
from adaptml.serving.state import serving_state

__all__ = ["VersionBook", "blueprint", "version_book", "version_summary"]

blueprint = Blueprint("versions", __name__)
EXTENSION = "adaptml_versions"
MAX_CACHED = 500
DIAGNOSTICS = "diagnostics.json"


@dataclass
class VersionBook:
    """The registry's manifests and diagnostics, read once each (versions never change once published)."""

    registry: Registry
    _manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    _diagnostics: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def manifest(self, version: str) -> dict[str, Any]:
        with self._lock:
            cached = self._manifests.get(version)
        if cached is not None:
            return cached
        data = self.registry.storage.get_bytes(self.registry.version_uri(version).join("manifest.json"))
        manifest: dict[str, Any] = json.loads(data)
        with self._lock:
            if len(self._manifests) >= MAX_CACHED:
                self._manifests.clear()
            self._manifests[version] = manifest
        return manifest

    def diagnostics(self, version: str) -> Any | None:
        """The version's ``diagnostics.json`` (None when it has none), verified against its manifest's sha256."""
        with self._lock:
            if version in self._diagnostics:
                return self._diagnostics[version]
        entry = (self.manifest(version).get("files") or {}).get(DIAGNOSTICS)
        value = None
        if entry:
            data = self.registry.storage.get_bytes(self.registry.version_uri(version).join(DIAGNOSTICS))
            if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
                abort(502, description=f"version {version}: {DIAGNOSTICS} does not match its sha256 in the manifest")
            value = json.loads(data)
        with self._lock:
            if len(self._diagnostics) >= MAX_CACHED:
                self._diagnostics.clear()
            self._diagnostics[version] = value
        return value

    def live(self) -> str | None:
        """The version LATEST points at; None when it cannot be read."""
        try:
            return self.registry.latest().version
        except AdaptmlError:
            return None


def version_book(app: Flask | None = None) -> VersionBook:
    book: VersionBook = (app or current_app).extensions[EXTENSION]
    return book


@blueprint.record_once
def _attach(state: Any) -> None:
    state.app.extensions[EXTENSION] = VersionBook(state.app.extensions["adaptml"].store.registry)


def version_summary(version: str, manifest: dict[str, Any], *, live: str | None, served: str | None) -> dict[str, Any]:
    """One line of the versions list: date, best model and its score, model count, live and served flags."""
    board = manifest.get("leaderboard") or []
    metric = manifest.get("metric")
    best = board[0] if board else {}
    return {
        "version": version,
        "published_at": manifest.get("published_at"),
        "task": manifest.get("task"),
        "metric": metric,
        "higher_is_better": manifest.get("higher_is_better"),
        "best_model": manifest.get("best_model") or best.get("model"),
        "best_score": best.get(metric) if metric else None,
        "models": len(board),
        "fit_rows": manifest.get("fit_rows"),
        "live": version == live,
        "served": version == served,
        "has_diagnostics": DIAGNOSTICS in (manifest.get("files") or {}),
    }


def _summaries() -> tuple[list[dict[str, Any]], str | None]:
    book = version_book()
    live = book.live()
    served = serving_state().store.version
    rows = [version_summary(v, book.manifest(v), live=live, served=served) for v in book.registry.versions()]
    rows.sort(key=lambda row: (str(row["published_at"] or ""), row["version"]), reverse=True)
    return rows, live


def compare_boards(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two versions' leaderboards side by side, one row per model in either, with the change in the metric."""
    metric = first.get("metric") or second.get("metric")
    boards = [{row["model"]: row for row in m.get("leaderboard") or []} for m in (first, second)]
    names = list(dict.fromkeys([*boards[0], *boards[1]]))
    rows = []
    for name in names:
        a, b = (board.get(name, {}).get(metric) for board in boards)
        ranks = [board.get(name, {}).get("rank") for board in boards]
        delta = b - a if isinstance(a, int | float) and isinstance(b, int | float) else None
        rows.append({"model": name, "rank_a": ranks[0], "score_a": a, "rank_b": ranks[1], "score_b": b, "delta": delta})
    same = first.get("metric") == second.get("metric")
    return {"metric": metric, "same_metric": same, "higher_is_better": first.get("higher_is_better"), "rows": rows}


def _comparison(pair: str, known: list[str]) -> dict[str, Any] | None:
    if not pair:
        return None
    names = [part.strip() for part in pair.split(",") if part.strip()]
    if len(names) != 2:
        abort(400, description=f"tick exactly two versions to compare (or ask for ?compare=A,B); got {pair!r}")
    if unknown := [name for name in names if name not in known]:
        abort(404, description=f"no published version named {unknown[0]!r}")
    book = version_book()
    return {"a": names[0], "b": names[1], **compare_boards(book.manifest(names[0]), book.manifest(names[1]))}


@blueprint.get("/versions")
def versions() -> str:
    rows, live = _summaries()
    # the page's form ticks two: the older (version ids start with their time) is A, so the change reads B - A
    pair = request.args.get("compare") or ",".join(sorted(request.args.getlist("pick")))
    comparison = _comparison(pair, [row["version"] for row in rows])
    return render_template("versions.html", rows=rows, live=live, comparison=comparison)


@blueprint.get("/api/v1/versions")
def versions_api() -> Response:
    """Every published version, newest first, with which one is live (LATEST) and which this process serves."""
    try:
        rows, live = _summaries()
    except ObjectNotFound:
        rows, live = [], None
    except AdaptmlError as error:
        response = jsonify({"error_code": "TEMPORARILY_UNAVAILABLE", "message": error.message})
        response.status_code = error.status_code
        return response
    state = serving_state()
    return jsonify({"project": state.settings.project, "live": live, "served": state.store.version, "versions": rows})
