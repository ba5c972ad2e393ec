"""Leakage suspects: a near copy of the target, arithmetic combinations, category groups; none on honest data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adaptml.eda import EdaResult, explore
from adaptml.eda.leakage import find_leakage
from adaptml.eda.profile import column_kinds

from .conftest import base_frame


def _suspects(frame: pd.DataFrame, target: str, task: str) -> dict[frozenset[str], str]:
    suspects, _ = find_leakage(frame, column_kinds(frame), target=target, task=task, seed=0)
    return {frozenset(s.columns): s.evidence for s in suspects}


def test_a_near_copy_of_the_target_is_flagged(leaky_result: EdaResult) -> None:
    flagged = {s.columns: s for s in leaky_result.leakage}
    assert ("price_copy",) in flagged
    suspect = flagged[("price_copy",)]
    assert suspect.score > 0.98
    assert "price_copy alone predicts price" in suspect.evidence
    assert "R²" in suspect.evidence


def test_a_product_of_two_columns_is_flagged_naming_both() -> None:
    frame = base_frame()
    frame["total"] = frame["nights"] * frame["lead_time"]
    result = explore(frame, target="total", task="regression", title="Totals")
    pairs = [s for s in result.leakage if set(s.columns) == {"nights", "lead_time"}]
    assert pairs, result.leakage
    assert "×" in pairs[0].evidence and "nights" in pairs[0].evidence and "lead_time" in pairs[0].evidence
    assert pairs[0].score > 0.99


def test_a_ratio_of_two_columns_is_flagged() -> None:
    frame = base_frame()
    frame["total"] = frame["price"] * frame["nights"]
    frame = frame.drop(columns=["price"]).assign(price=frame["total"] / frame["nights"])
    evidence = _suspects(frame, "price", "regression")[frozenset({"total", "nights"})]
    assert "price ≈ total / nights" in evidence
    assert f"on {len(frame):,} rows" in evidence


def test_honest_data_has_no_suspects(clean_result: EdaResult) -> None:
    assert clean_result.leakage == ()
    assert "No leakage suspects" in clean_result.files["report.html"].decode()


def test_a_category_whose_groups_determine_a_class_is_flagged() -> None:
    frame = base_frame()
    frame["expensive"] = np.where(frame["price"] > frame["price"].median(), "yes", "no").astype(object)
    frame["tier"] = frame["expensive"].map({"yes": "gold", "no": "silver"})
    suspects = _suspects(frame.drop(columns=["price"]), "expensive", "classification")
    assert "the 2 groups of tier determine expensive" in suspects[frozenset({"tier"})]
    assert frozenset({"room"}) not in suspects


def test_a_numeric_column_that_separates_classes_is_flagged_for_multiclass() -> None:
    frame = base_frame()
    frame["band"] = pd.cut(frame["price"], [-np.inf, 90, 150, np.inf], labels=["low", "mid", "high"]).astype(str)
    suspects = _suspects(frame, "band", "classification")
    assert "balanced accuracy" in suspects[frozenset({"price"})]
    assert len(suspects) == 1


def test_an_identifier_is_not_a_suspect() -> None:
    frame = base_frame()
    frame["booking_id"] = [f"b{i:05d}" for i in range(len(frame))]
    assert _suspects(frame, "price", "regression") == {}


def _binary_frame(rows: int = 600, seed: int = 3) -> pd.DataFrame:
    """An honest binary frame: ``signal`` alone reaches ROC AUC about 0.9, ``noise`` nothing."""
    rng = np.random.default_rng(seed)
    y = rng.random(rows) < 0.3
    signal = 1.8 * y + rng.normal(size=rows)
    return pd.DataFrame(
        {
            "signal": signal,
            "signal_rounded": np.clip(np.round(signal), -2, 4),  # the same evidence as an ordinal number
            "noise": rng.normal(size=rows),
            "colour": rng.choice(["red", "green", "blue"], rows).astype(object),
            "y": np.where(y, "yes", "no").astype(object),
        }
    )


def test_an_ordinal_level_that_is_the_outcome_is_flagged_naming_the_column() -> None:
    frame = _binary_frame()
    rng = np.random.default_rng(4)
    positive = (frame["y"] == "yes").to_numpy()
    stage = rng.integers(0, 3, len(frame)).astype("float64")
    stage[positive & (rng.random(len(frame)) < 0.7)] = 3.0  # level 3 only ever happens to positives
    frame["stage"] = stage
    suspects, singles = find_leakage(frame, column_kinds(frame), target="y", task="classification", seed=0)
    flagged = {s.columns: s for s in suspects}
    assert singles["stage"] < 0.97  # the single-column score alone would miss it
    assert list(flagged) == [("stage",)]
    assert "the level 3 of stage is y = 'yes'" in flagged[("stage",)].evidence


def test_a_category_level_that_is_the_outcome_is_flagged() -> None:
    frame = _binary_frame()
    positive = (frame["y"] == "yes").to_numpy()
    frame["status"] = np.where(positive & (np.arange(len(frame)) % 5 != 0), "closed", frame["colour"])
    assert set(_suspects(frame, "y", "classification")) == {frozenset({"status"})}


def test_a_sum_of_two_columns_is_still_flagged_for_classes() -> None:
    frame = _binary_frame()
    rng = np.random.default_rng(5)
    frame["part_a"] = rng.normal(size=len(frame))
    frame["part_b"] = np.where(frame["y"] == "yes", 1.0, -1.0) * rng.uniform(0.5, 2, len(frame)) - frame["part_a"]
    suspects = _suspects(frame, "y", "classification")
    assert frozenset({"part_a", "part_b"}) in suspects
    assert "part_a + part_b" in suspects[frozenset({"part_a", "part_b"})] or "part_b + part_a" in str(suspects)


def test_an_honest_strong_feature_is_not_a_suspect() -> None:
    from sklearn.metrics import roc_auc_score

    frame = _binary_frame()
    suspects, _ = find_leakage(frame, column_kinds(frame), target="y", task="classification", seed=0)
    assert 0.88 <= roc_auc_score(frame["y"] == "yes", frame["signal"]) <= 0.93
    assert suspects == ()


def test_a_single_column_at_the_threshold_is_flagged() -> None:
    frame = _binary_frame()
    rng = np.random.default_rng(6)
    frame["almost"] = np.where(frame["y"] == "yes", 3.3, 0.0) + rng.normal(size=len(frame))  # CV AUC about 0.98
    suspects, singles = find_leakage(frame, column_kinds(frame), target="y", task="classification", seed=0)
    assert 0.97 <= singles["almost"] < 0.99
    assert ("almost",) in {s.columns for s in suspects}
