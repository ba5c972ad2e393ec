"""Data-quality alerts: constant, mostly missing, imbalanced target, high cardinality, high correlation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptml.eda import Alert, EdaResult, explore

from .conftest import base_frame


@pytest.fixture(scope="module")
def alerted() -> EdaResult:
    frame = base_frame()
    rng = np.random.default_rng(3)
    frame["country"] = np.full(len(frame), "prt", dtype=object)
    frame["company"] = rng.normal(size=len(frame))
    frame.loc[frame.index[: int(0.6 * len(frame))], "company"] = np.nan
    frame["agent"] = [f"agent_{i % 120}" for i in range(len(frame))]
    frame["guests_twice"] = frame["guests"] * 2 + rng.normal(0, 0.01, len(frame))
    frame["cancelled"] = np.where(rng.random(len(frame)) < 0.05, "yes", "no").astype(object)
    return explore(frame.drop(columns=["price"]), target="cancelled", task="classification", title="Alerts")


def _find(result: EdaResult, kind: str, column: str) -> Alert:
    matches = [a for a in result.alerts if a.kind == kind and a.column == column]
    assert matches, [(a.kind, a.column) for a in result.alerts]
    return matches[0]


def test_a_constant_column_is_a_warning(alerted: EdaResult) -> None:
    alert = _find(alerted, "constant", "country")
    assert alert.severity == "warning"
    assert "'prt'" in alert.message


def test_a_column_sixty_percent_missing_is_a_warning(alerted: EdaResult) -> None:
    alert = _find(alerted, "many_missing", "company")
    assert alert.severity == "warning"
    assert "60.0% missing" in alert.message


def test_an_imbalanced_classification_target_is_a_warning(alerted: EdaResult) -> None:
    alert = _find(alerted, "imbalance", "cancelled")
    assert alert.severity == "warning"
    assert "'no'" in alert.message and "'yes'" in alert.message


def test_high_cardinality_and_high_correlation_are_reported(alerted: EdaResult) -> None:
    assert "120 distinct values" in _find(alerted, "high_cardinality", "agent").message
    correlated = [a for a in alerted.alerts if a.kind == "high_correlation"]
    assert any("guests" in a.message and "guests_twice" in a.message for a in correlated)


def test_warnings_come_first_and_appear_in_the_report(alerted: EdaResult) -> None:
    severities = [a.severity for a in alerted.alerts]
    assert severities == sorted(severities, key=lambda s: s != "warning")
    html = alerted.files["report.html"].decode()
    assert "company is 60.0% missing" in html


def test_a_balanced_honest_frame_has_no_warnings(clean_result: EdaResult) -> None:
    assert [a for a in clean_result.alerts if a.severity == "warning"] == []


def test_duplicate_rows_are_counted() -> None:
    frame = base_frame(rows=200)
    doubled = pd.concat([frame, frame.iloc[:20]], ignore_index=True)
    result = explore(doubled, target="price", task="regression", title="Doubled")
    assert result.summary["duplicate_rows"] == 20
    assert any(a.kind == "duplicates" and a.column is None for a in result.alerts)
