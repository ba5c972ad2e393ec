"""Every published version of a project, as ``adaptml versions`` (and a versions page) lists them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adaptml.errors import AdaptmlError, NoPublishedVersion
from adaptml.registry import Latest, Registry

__all__ = ["VersionSummary", "version_history"]


@dataclass(frozen=True)
class VersionSummary:
    """One version: when it was published, its best model and score, whether it is live, and its trust status."""

    version: str
    published_at: str | None
    best_model: str | None
    metric: str | None
    score: float | None
    live: bool
    status: str  # "verified", "unverified" (no keys to check with) or the reason it would be refused


def version_history(registry: Registry) -> list[VersionSummary]:
    """Every version with a manifest, oldest first; a bad manifest is listed with the reason, not skipped."""
    live = _live(registry)
    rows = []
    for name in registry.versions():
        try:
            manifest = registry.manifest(name)
        except AdaptmlError as error:
            rows.append(VersionSummary(name, None, None, None, None, name == live, f"refused: {error}"))
            continue
        rows.append(
            _summary(
                name,
                manifest,
                live=name == live,
                checked=registry.keys is not None and registry.keys.public is not None,
            )
        )
    return rows


def _live(registry: Registry) -> str | None:
    try:
        latest: Latest = registry.latest()
    except NoPublishedVersion:
        return None
    except AdaptmlError:
        return None  # an unverifiable LATEST makes nothing live
    return latest.version


def _summary(name: str, manifest: dict[str, Any], *, live: bool, checked: bool) -> VersionSummary:
    board = manifest.get("leaderboard") or []
    best = board[0] if board and isinstance(board[0], dict) else {}
    metric = manifest.get("metric")
    score = best.get(metric) if isinstance(metric, str) else None
    return VersionSummary(
        version=name,
        published_at=manifest.get("published_at"),
        best_model=best.get("model"),
        metric=metric if isinstance(metric, str) else None,
        score=float(score) if isinstance(score, int | float) else None,
        live=live,
        status="verified" if checked else "unverified",
    )
