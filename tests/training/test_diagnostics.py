"""The held-out diagnostics on small arrays: curves, threshold counts, calibration, deciles, ties, JSON shape."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adaptml.training.diagnostics import (
    MAX_CURVE_POINTS,
    MAX_SCATTER_POINTS,
    calibration,
    compare_models,
    diagnose,
    downsample,
    error_by_range,
    threshold_counts,
)
from adaptml.training.task import TaskInfo

BINARY = TaskInfo("classification", "roc_auc", True, ("no", "yes"))
REGRESSION = TaskInfo("regression", "rmse", False)


def _binary(n: int = 400, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.3
    good = np.clip(0.3 + 0.5 * truth + rng.normal(0, 0.15, n), 0, 1)
    noise = rng.random(n)
    y = np.where(truth, "yes", "no").astype(object)
    as_proba = lambda p: np.column_stack([1 - p, p])  # noqa: E731
    return y, {"good": as_proba(good), "dummy": as_proba(np.full(n, 0.3)), "noise": as_proba(noise)}


def _board(outputs: dict[str, np.ndarray], y: np.ndarray, info: TaskInfo) -> list[dict[str, object]]:
    from adaptml.training.evaluation import score

    rows = [{"model": name, info.metric: score(info.metric, info, y, out)} for name, out in outputs.items()]
    rows.sort(key=lambda r: r[info.metric], reverse=info.higher_is_better)  # type: ignore[arg-type,return-value]
    for rank, row in enumerate(rows, start=1):
        row |= {"rank": rank, f"cv_{info.metric}_mean": row[info.metric], f"cv_{info.metric}_std": 0.01}
        row |= {"fit_seconds": 0.5, "predict_ms_per_1000": 3.0, "pickle_bytes": 12_345}
    return rows


def test_downsample_keeps_the_ends_and_the_limit():
    assert downsample(5).tolist() == [0, 1, 2, 3, 4]
    picked = downsample(10_000, 200)
    assert len(picked) <= 200 and picked[0] == 0 and picked[-1] == 9_999


def test_threshold_counts_match_a_direct_count():
    positive = np.array([True, True, False, False, True])
    proba = np.array([0.9, 0.4, 0.4, 0.1, 0.5])
    counts = threshold_counts(positive, proba, np.array([0.0, 0.4, 0.5, 1.0]))
    assert counts["tp"] == [3, 3, 2, 0] and counts["fp"] == [2, 1, 0, 0]
    assert counts["fn"] == [0, 0, 1, 3] and counts["tn"] == [0, 1, 2, 2]


def test_calibration_bins_report_observed_frequency():
    hit = np.array([0, 0, 1, 1, 1, 0])
    confidence = np.array([0.05, 0.08, 0.92, 0.95, 0.91, 0.55])
    bins = calibration(hit, confidence)
    assert bins["count"] == [2, 1, 3] and bins["observed"] == [0.0, 0.0, 1.0]
    assert bins["predicted"][0] == pytest.approx(0.065)


def test_error_by_range_splits_the_target_into_deciles():
    actual = np.arange(100, dtype=float)
    predicted = actual + np.where(actual >= 90, 10.0, 0.0)
    rows = error_by_range(actual, predicted)
    assert len(rows) == 10 and sum(r["count"] for r in rows) == 100
    assert rows[-1]["mae"] == 10.0 and rows[-1]["bias"] == 10.0 and rows[0]["rmse"] == 0.0
    assert error_by_range(np.ones(5), np.ones(5))[0]["count"] == 5  # a constant target is one range


def test_binary_diagnostics_have_curves_thresholds_and_the_f1_threshold():
    y, outputs = _binary()
    result = diagnose(y, outputs, BINARY, board=_board(outputs, y, BINARY))
    assert result["models"][0] == "good" and json.loads(json.dumps(result)) == result  # plain JSON, no NaN
    good = result["per_model"]["good"]
    assert len(good["roc"]["fpr"]) <= MAX_CURVE_POINTS and good["roc"]["auc"] > 0.9
    assert good["roc"]["fpr"][0] == 0.0 and good["roc"]["tpr"][-1] == 1.0
    assert 0.2 < good["best_f1"]["threshold"] < 0.8 and good["best_f1"]["f1"] > 0.8
    thresholds = good["thresholds"]
    assert len(thresholds["grid"]) == 101 and thresholds["tp"][0] + thresholds["fn"][0] == (y == "yes").sum()
    assert np.sum(good["confusion"]) == len(y) and len(good["confusion"]) == 2
    assert sum(good["calibration"]["count"]) == len(y)


def test_the_comparison_flags_ties_within_noise():
    y, outputs = _binary()
    outputs["good_twin"] = outputs["good"] + 1e-9
    comparison = diagnose(y, outputs, BINARY, board=_board(outputs, y, BINARY))["comparison"]
    flags = {row["model"]: row["tied_with_best"] for row in comparison["rows"]}
    assert flags["good"] and flags["good_twin"] and not flags["noise"] and not flags["dummy"]
    assert "bootstrap" in comparison["tie_rule"] and comparison["rows"][0]["pickle_bytes"] == 12_345


def test_multiclass_diagnostics_use_the_argmax_and_micro_average():
    info = TaskInfo("classification", "accuracy", True, ("a", "b", "c"))
    rng = np.random.default_rng(1)
    y = rng.choice(["a", "b", "c"], 90).astype(object)
    proba = rng.dirichlet([1, 1, 1], 90)
    proba[np.arange(90), np.searchsorted(["a", "b", "c"], y)] += 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    outputs = {"m": proba}
    figures = diagnose(y, outputs, info, board=_board(outputs, y, info))["per_model"]["m"]
    assert np.trace(figures["confusion"]) == 90 and "thresholds" not in figures and figures["roc"]["auc"] > 0.9


def test_regression_diagnostics_sample_the_scatter_and_keep_rows_aligned():
    rng = np.random.default_rng(2)
    y = rng.normal(100, 20, 3000)
    outputs = {"close": y + rng.normal(0, 1, 3000), "far": y + rng.normal(0, 30, 3000)}
    result = diagnose(y, outputs, REGRESSION, board=_board(outputs, y, REGRESSION))
    assert len(result["actual"]) == MAX_SCATTER_POINTS
    close = result["per_model"]["close"]
    gap = np.abs(np.asarray(result["actual"]) - np.asarray(close["predicted"]))
    assert len(close["predicted"]) == MAX_SCATTER_POINTS and gap.max() < 6  # same rows for actual and predicted
    assert len(close["by_range"]) == 10 and abs(close["residual_mean"]) < 0.2
    assert [row["model"] for row in result["comparison"]["rows"]] == ["close", "far"]
    assert not result["comparison"]["rows"][1]["tied_with_best"]


def test_importance_and_ensemble_weights_are_carried_through():
    y, outputs = _binary(60)
    selection = {
        "method": "permutation",
        "importance": {"b": 0.1, "a": 0.3, "c": -0.01},
        "importance_std": {"a": 0.02, "b": 0.01, "c": 0.0},
        "gain_share": {"a": 0.7, "b": 0.3, "c": 0.0},
        "dropped": ["c"],
    }
    result = diagnose(
        y, outputs, BINARY, board=_board(outputs, y, BINARY), selection=selection, ensemble_weights={"good": 1.0}
    )
    importance = result["importance"]
    assert importance["features"] == ["a", "b", "c"] and importance["gain_share"] == [0.7, 0.3, 0.0]
    assert importance["dropped"] == ["c"] and result["ensemble_weights"] == {"good": 1.0}
    assert diagnose(y, outputs, BINARY, board=_board(outputs, y, BINARY))["importance"] is None


def test_a_single_class_test_split_still_gives_valid_json():
    y = np.array(["no"] * 20, dtype=object)
    outputs = {"m": np.column_stack([np.full(20, 0.8), np.full(20, 0.2)])}
    result = diagnose(y, outputs, BINARY, board=[{"model": "m", "roc_auc": None}])
    figures = result["per_model"]["m"]
    assert "roc" not in figures and figures["best_f1"] is None and figures["thresholds"]["fp"][0] == 20
    assert compare_models([], y, outputs, BINARY)["rows"] == []


def test_the_fast_bootstrap_metrics_agree_with_evaluation():
    from adaptml.training.diagnostics import _metric_on_rows
    from adaptml.training.evaluation import score

    y, outputs = _binary(200)
    rows = np.arange(0, 200, 3)
    fast = _metric_on_rows(y, BINARY)(outputs["good"], rows)
    assert fast == pytest.approx(score("roc_auc", BINARY, y[rows], outputs["good"][rows]))
    actual, predicted = np.arange(10.0), np.arange(10.0) + np.linspace(-2, 2, 10)
    for metric in ("rmse", "mae"):
        info = TaskInfo("regression", metric, False)
        assert _metric_on_rows(actual, info)(predicted, rows[:4]) == pytest.approx(
            score(metric, info, actual[rows[:4]], predicted[rows[:4]])
        )
