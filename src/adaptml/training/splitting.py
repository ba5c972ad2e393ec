"""Train/test split: random, stratified or by time. The test split is held out from every fitting step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from adaptml.config import SplitConfig
from adaptml.errors import DataError
from adaptml.training.task import TaskInfo

__all__ = ["Split", "split"]

REGRESSION_STRATA = 10


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    strategy: str


def split(frame: pd.DataFrame, *, target: str, config: SplitConfig, info: TaskInfo) -> Split:
    """Hold out ``config.test_size`` of the rows as the test split (at least one row on each side)."""
    n_test = max(1, round(len(frame) * config.test_size))
    if n_test >= len(frame) - 1:
        raise DataError(f"only {len(frame)} rows: too few to hold out a test split of {config.test_size:.0%}")
    if config.strategy == "time":
        return _by_time(frame, config, n_test)
    stratify = _strata(frame[target], info, n_test) if config.strategy == "stratified" else None
    train, test = train_test_split(frame, test_size=n_test, random_state=config.seed, shuffle=True, stratify=stratify)
    return Split(train.reset_index(drop=True), test.reset_index(drop=True), config.strategy)


def _strata(y: pd.Series, info: TaskInfo, n_test: int) -> pd.Series | None:
    """Labels to stratify on (quantile bins for regression); None when some stratum is too small to split."""
    if info.task == "regression":
        bins = min(REGRESSION_STRATA, max(2, n_test // 2))
        strata = pd.qcut(y.rank(method="first"), q=bins, labels=False)
    else:
        strata = y.astype(str)
    counts = strata.value_counts()
    if counts.min() < 2 or len(counts) > n_test:
        return None
    return strata


def _by_time(frame: pd.DataFrame, config: SplitConfig, n_test: int) -> Split:
    """The latest rows by ``time_column`` are the test split; rows without a time stay in training."""
    column = config.time_column or ""
    if column not in frame.columns:
        raise DataError(f"split.time_column '{column}' is not a usable column of the dataset")
    times = frame[column]
    if not (pd.api.types.is_datetime64_any_dtype(times) or pd.api.types.is_numeric_dtype(times)):
        raise DataError(f"split.time_column '{column}' holds neither dates nor numbers")
    order = np.argsort(times.to_numpy(), kind="stable")
    missing = times.isna().to_numpy()[order]
    order = np.concatenate([order[missing], order[~missing]])  # missing times never land in the test split
    train = frame.iloc[order[:-n_test]].reset_index(drop=True)
    test = frame.iloc[order[-n_test:]].reset_index(drop=True)
    return Split(train, test, "time")
