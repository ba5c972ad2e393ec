"""The EDA's work is bounded: rows by a target-stratified sample, plots by count and by a time allowance; the
statistics, alerts and leak checks run whatever the allowance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adaptml.eda import explore
from adaptml.eda.core import SAMPLE_ROWS
from adaptml.eda.profile import sample_rows, target_strata

from .conftest import base_frame


def _rare_positive_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Many rows, 3% positives, and an ordinal column one level of which only ever happens to positives."""
    rng = np.random.default_rng(seed)
    positive = rng.random(rows) < 0.03
    stage = rng.integers(0, 3, rows).astype("float64")
    stage[positive & (rng.random(rows) < 0.8)] = 3.0
    return pd.DataFrame(
        {
            "stage": stage,
            "income": rng.gamma(2.0, 20.0, rows),
            "region": rng.choice(["north", "south", "east"], rows).astype(object),
            "y": np.where(positive, "yes", "no").astype(object),
        }
    )


def test_a_stratified_sample_keeps_each_class_share() -> None:
    frame = _rare_positive_frame(60_000)
    sample = sample_rows(frame, SAMPLE_ROWS, 0, strata=target_strata(frame["y"], "classification"))

    assert abs(len(sample) - SAMPLE_ROWS) <= 2
    share, sampled = (frame["y"] == "yes").mean(), (sample["y"] == "yes").mean()
    assert abs(sampled - share) < 1 / SAMPLE_ROWS * 2
    assert sample.index.is_monotonic_increasing


def test_a_numeric_target_is_stratified_by_deciles() -> None:
    values = pd.Series(np.random.default_rng(0).lognormal(size=1000))
    strata = target_strata(values, "regression")
    assert sorted(strata.unique()) == list(range(1, 11))
    assert strata.value_counts().max() == 100


def test_a_single_column_leak_is_flagged_on_the_sample_of_a_large_frame() -> None:
    frame = _rare_positive_frame(60_000)
    result = explore(frame, target="y", task="classification", title="rare", seconds=0)

    assert result.summary["sampled"] and result.summary["sampled_rows"] <= SAMPLE_ROWS + 2
    assert [s.columns for s in result.leakage] == [("stage",)]


def test_a_spent_allowance_leaves_out_all_plots_but_the_target_and_the_report_says_so() -> None:
    frame = base_frame()
    frame["price_copy"] = frame["price"] + np.random.default_rng(1).normal(0, 0.01, len(frame))
    result = explore(frame, target="price", task="regression", title="hotels", seconds=0)

    assert [name for name in result.files if name.startswith("plots/")] == ["plots/dist_price.png"]
    assert set(result.summary["plots_left_out"]) == set(frame.columns) - {"price"}
    assert [s.columns for s in result.leakage] == [("price_copy",)]  # the leak check still runs
    html = result.files["report.html"].decode("utf-8")
    assert "plot left out" in html and "price_copy" in html


def test_without_an_allowance_every_column_is_plotted() -> None:
    frame = base_frame()
    result = explore(frame, target="price", task="regression", title="hotels")

    assert result.summary["plots_left_out"] == []
    assert {f"plots/dist_{name}.png" for name in frame.columns} <= set(result.files)
