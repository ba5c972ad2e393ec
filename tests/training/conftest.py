"""Small, messy synthetic frames for the training core: seconds to fit, every cleaning case represented."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

from adaptml.config import SplitConfig
from adaptml.schema import Schema, infer_schema
from adaptml.training import (
    FeaturePlan,
    FitResult,
    Split,
    TaskInfo,
    clean,
    fit_model,
    plan_features,
    resolve_task,
    split,
    target_labels,
)

from .frames import messy_frame


@pytest.fixture
def regression_raw() -> pd.DataFrame:
    return messy_frame()


@pytest.fixture
def classification_raw() -> pd.DataFrame:
    return messy_frame(classify=True)


@dataclass(frozen=True)
class Problem:
    frame: pd.DataFrame
    info: TaskInfo
    schema: Schema
    parts: Split
    plan: FeaturePlan

    def fit(self, name: str, *, seed: int = 0, cv_folds: int = 3, **options: Any) -> FitResult:
        """``fit_model`` on this problem's training split."""
        train = self.parts.train
        return fit_model(
            name, train, schema=self.schema, plan=self.plan, info=self.info, seed=seed, cv_folds=cv_folds, **options
        )


def prepare(raw: pd.DataFrame, target: str, *, strategy: str = "random", seed: int = 0) -> Problem:
    """Clean, detect the task, infer the schema, split and plan features, as the pipeline does."""
    frame, _ = clean(raw, target)
    info = resolve_task(frame[target], configured_task="auto", configured_metric=None)
    frame[target] = target_labels(frame[target], info.task)
    schema = infer_schema(frame, target=target, task=info.task, classes=info.classes)
    parts = split(frame, target=target, config=SplitConfig(strategy=strategy, seed=seed), info=info)
    return Problem(frame, info, schema, parts, plan_features(schema, parts.train))
