from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptml.config import SplitConfig
from adaptml.errors import ConfigError, DataError
from adaptml.training import resolve_task, split
from adaptml.training.task import detect_task

from .conftest import prepare
from .frames import messy_frame


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([">50K", "<=50K", ">50K"], "classification"),
        ([0, 1, 1, 0, 2], "classification"),
        ([0.5, 1.25, 3.0, 7.5], "regression"),
        (list(range(50)), "regression"),
    ],
)
def test_task_is_detected_from_the_target(values: list[object], expected: str) -> None:
    assert detect_task(pd.Series(values, name="y")) == expected


def test_configured_task_wins_and_text_cannot_be_regressed() -> None:
    assert detect_task(pd.Series([1, 2, 3] * 5), "regression") == "regression"
    with pytest.raises(DataError, match="needs a numeric target"):
        detect_task(pd.Series(["a", "b"], name="y"), "regression")


def test_classes_are_the_sorted_original_labels_and_metric_defaults() -> None:
    info = resolve_task(pd.Series([">50K", "<=50K", ">50K"], name="y"), configured_task="auto", configured_metric=None)
    assert info.classes == ("<=50K", ">50K") and info.metric == "roc_auc" and info.higher_is_better
    numeric = resolve_task(pd.Series([2, 0, 1, 1], name="y"), configured_task="auto", configured_metric=None)
    assert numeric.classes == (0, 1, 2)


def test_a_metric_that_does_not_fit_the_detected_task_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="metric 'rmse' does not fit the classification task"):
        resolve_task(pd.Series(["a", "b"], name="y"), configured_task="auto", configured_metric="rmse")


def test_a_single_class_is_a_data_error() -> None:
    with pytest.raises(DataError, match="single class"):
        resolve_task(pd.Series(["a", "a"], name="y"), configured_task="auto", configured_metric=None)


def test_random_split_holds_out_the_test_size() -> None:
    problem = prepare(messy_frame(200), "price")
    assert len(problem.parts.test) == 40 and len(problem.parts.train) == 160
    assert set(problem.parts.train["x"]).isdisjoint(problem.parts.test["x"])


def test_stratified_split_keeps_class_shares() -> None:
    problem = prepare(messy_frame(200, classify=True), "label", strategy="stratified")
    shares = [
        p["label"].value_counts(normalize=True).sort_index().to_numpy()
        for p in (problem.parts.train, problem.parts.test)
    ]
    assert np.allclose(shares[0], shares[1], atol=0.02)


def test_time_split_holds_out_the_latest_rows() -> None:
    problem = prepare(messy_frame(200), "price")
    config = SplitConfig(strategy="time", time_column="signup", test_size=0.25)
    parts = split(problem.frame, target="price", config=config, info=problem.info)
    assert parts.train["signup"].max() <= parts.test["signup"].min()
    with pytest.raises(DataError, match="split.time_column 'city' holds neither"):
        split(
            problem.frame, target="price", config=config.model_copy(update={"time_column": "city"}), info=problem.info
        )
