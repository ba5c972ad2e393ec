"""What a training run produced, as the runner returns it and the terminal display shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["TrainResult"]


@dataclass(frozen=True)
class TrainResult:
    """What a run produced: the ranked leaderboard, the published version and where its EDA report is; what cleaning
    did; how many rows the published models were fitted on (``fit_rows``; ``refit`` or ``refit_reason`` why not);
    the models the time budget skipped, with why; what feature selection kept and dropped (``selection``) and the
    strongest features by its permutation importance (``importance``, empty when selection did not run)."""

    run_id: str
    version: str
    up_to_date: bool
    leaderboard: pd.DataFrame
    report_uri: str
    metric: str
    higher_is_better: bool
    task: str
    leakage: list[dict[str, Any]] = field(default_factory=list)
    cleaning: dict[str, Any] = field(default_factory=dict)
    fit_rows: int | None = None
    refit: bool = False
    refit_reason: str = ""
    skipped: dict[str, str] = field(default_factory=dict)
    time_budget: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)
    importance: list[dict[str, Any]] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0

    @classmethod
    def from_published(
        cls, published: dict[str, Any], *, run_id: str, up_to_date: bool, seconds: dict[str, float], total: float
    ) -> TrainResult:
        """The result from what Publish recorded (see ``Publish``), plus this invocation's timings."""
        return cls(
            run_id=run_id,
            version=str(published["version"]),
            up_to_date=up_to_date,
            leaderboard=pd.DataFrame(published["leaderboard"]),
            report_uri=str(published["report_uri"]),
            metric=str(published["metric"]),
            higher_is_better=bool(published["higher_is_better"]),
            task=str(published["task"]),
            leakage=list(published["leakage"]),
            cleaning=dict(published.get("cleaning") or {}),
            fit_rows=published.get("fit_rows"),
            refit=bool(published.get("refit", False)),
            refit_reason=str(published.get("refit_reason", "")),
            skipped=dict(published.get("skipped") or {}),
            time_budget=dict(published.get("time_budget") or {}),
            selection=dict(published.get("selection") or {}),
            importance=list(published.get("importance") or []),
            stage_seconds=dict(seconds),
            total_seconds=total,
        )
