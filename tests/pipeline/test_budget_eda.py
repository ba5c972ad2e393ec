"""The EDA inside the time budget: it runs right after cleaning (so the training stages plan with what is left)
and gets its own share of the budget for plots."""

from __future__ import annotations

import time

from adaptml.pipeline import train
from adaptml.pipeline.context import StageEvent
from adaptml.pipeline.preparation import EDA_SHARE, eda_allowance
from adaptml.storage import Storage
from adaptml.training.budget import Budget

from .conftest import ConfigFactory


def test_the_eda_allowance_is_its_share_of_the_budget_and_never_more_than_is_left() -> None:
    now = time.time()
    assert eda_allowance(Budget(0, now), now) is None  # unbounded run: no time limit on the EDA
    assert eda_allowance(Budget(60, now), now) == EDA_SHARE * 60
    assert eda_allowance(Budget(60, now - 57), now) == 3.0  # cleaning took most of the budget
    assert eda_allowance(Budget(60, now - 70), now) == 0.0


def test_the_eda_runs_right_after_cleaning_before_the_split_and_any_model(
    storage: Storage, make_config: ConfigFactory
) -> None:
    events: list[StageEvent] = []
    cfg = make_config(models=["ridge"], time_budget_seconds=600)
    train(cfg, storage=storage, progress=events.append)

    started = [e.stage for e in events if e.kind == "start"]
    assert started[:3] == ["ingest", "clean", "explore"]
    assert started.index("explore") < started.index("split") < started.index("train dummy")
    assert "explore" in {e.stage for e in events if e.kind == "done"}
