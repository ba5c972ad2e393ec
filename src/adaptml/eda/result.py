"""The typed result of the exploratory analysis: files to publish, alerts, leakage suspects and a JSON summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Alert", "EdaResult", "LeakageSuspect"]


@dataclass(frozen=True)
class Alert:
    """One data-quality finding in the spirit of ydata-profiling; ``column`` is None for dataset-wide alerts."""

    kind: str
    column: str | None
    message: str
    severity: str  # "info" | "warning"


@dataclass(frozen=True)
class LeakageSuspect:
    """Columns that reproduce the target too well to be honest features, with the evidence in words."""

    columns: tuple[str, ...]
    evidence: str
    score: float


@dataclass(frozen=True)
class EdaResult:
    """Everything ``explore`` produced; ``files`` maps relative paths ("report.html", "plots/x.png") to bytes."""

    files: dict[str, bytes]
    alerts: tuple[Alert, ...]
    leakage: tuple[LeakageSuspect, ...]
    summary: dict[str, Any]
