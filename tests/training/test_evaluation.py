from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from adaptml.config import parse_config
from adaptml.schema import Schema
from adaptml.training import TaskInfo, greedy_weights, leaderboard, run_id, version_files
from adaptml.training.ensemble import blend
from adaptml.training.evaluation import all_metrics, metric_names, score

REGRESSION = TaskInfo("regression", "rmse", False)
BINARY = TaskInfo("classification", "roc_auc", True, ("<=50K", ">50K"))


def test_regression_metrics_are_computed_from_predictions() -> None:
    scores = all_metrics(REGRESSION, np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    assert scores["rmse"] == pytest.approx(math.sqrt(1 / 3))
    assert scores["mae"] == pytest.approx(1 / 3)
    assert scores["r2"] == pytest.approx(0.5)
    assert scores["mape"] == pytest.approx((1 / 3) / 3)
    assert scores["rmsle"] > 0
    assert list(scores) == metric_names(REGRESSION)


def test_rmsle_is_undefined_for_negative_targets() -> None:
    assert math.isnan(all_metrics(REGRESSION, np.array([-1.0, 2.0]), np.array([0.0, 2.0]))["rmsle"])


def test_classification_metrics_use_the_original_labels() -> None:
    y = np.array(["<=50K", ">50K", ">50K", "<=50K"], dtype=object)
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    scores = all_metrics(BINARY, y, proba)
    assert scores["roc_auc"] == pytest.approx(0.75)
    assert scores["accuracy"] == pytest.approx(0.75)
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(1.0)
    assert set(scores) == {"roc_auc", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "log_loss", "mcc"}


def test_multiclass_metrics_are_macro_averaged() -> None:
    info = TaskInfo("classification", "f1", True, ("a", "b", "c"))
    y = np.array(["a", "b", "c", "c"], dtype=object)
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]])
    scores = all_metrics(info, y, proba)
    assert scores["f1"] == pytest.approx(np.mean([2 / 3, 1.0, 2 / 3]))
    assert 0 < scores["roc_auc"] <= 1


@pytest.mark.parametrize(("info", "best"), [(REGRESSION, "low"), (TaskInfo("regression", "r2", True), "high")])
def test_leaderboard_ranks_in_the_metric_direction(info: TaskInfo, best: str) -> None:
    rows = [
        {"model": "low", info.metric: 1.0},
        {"model": "high", info.metric: 2.0},
        {"model": "nan", info.metric: None},
    ]
    board = leaderboard(rows, info)
    assert list(board.columns[:2]) == ["rank", "model"]
    assert board.iloc[0]["model"] == best and board.iloc[-1]["model"] == "nan"
    assert list(board["rank"]) == [1, 2, 3]


def test_greedy_weights_favour_the_model_that_helps() -> None:
    y = np.linspace(0, 10, 50)
    outputs = {"good": y + 0.1, "bad": y[::-1].copy(), "ok": y + np.sin(y)}
    weights = greedy_weights(outputs, y, REGRESSION)
    assert weights.get("good", 0) > 0.5 and "bad" not in weights
    assert sum(weights.values()) == pytest.approx(1.0)
    assert blend(outputs, {"good": 1.0}) == pytest.approx(outputs["good"])


def _config(**changes: object) -> object:
    raw = {"project": "p", "data": {"uri": "s3://b/d.csv", "target": "y"}, "registry": "s3://b/r", **changes}
    return parse_config(raw)


def test_run_id_depends_on_config_data_and_package_but_not_serving() -> None:
    base = run_id(_config(), "abc", "0.1.0")
    assert base == run_id(_config(), "abc", "0.1.0")
    assert base == run_id(_config(serving={"poll_seconds": 1}), "abc", "0.1.0")
    assert base != run_id(_config(models=["ridge"]), "abc", "0.1.0")
    assert base != run_id(_config(), "abd", "0.1.0")
    assert base != run_id(_config(), "abc", "0.2.0")


def test_version_files_lay_out_the_registry_contract() -> None:
    board = leaderboard([{"model": "ridge", "rmse": 1.0}], REGRESSION)
    schema = Schema(target="y", task="regression", columns=())
    files = version_files(
        board=board,
        schema=schema,
        models={"ridge": b"pkl"},
        eda_files={"report.html": b"<html>"},
        reports={"cleaning": {"rows_in": 3}},
    )
    assert set(files) == {"metrics.csv", "schema.json", "models/ridge.pkl", "eda/report.html", "reports/cleaning.json"}
    assert pd.read_csv(pd.io.common.BytesIO(files["metrics.csv"])).columns[0] == "rank"


@pytest.mark.parametrize("n_classes", [2, 3, 6])
def test_roc_auc_equals_scikit_learns_with_ties_and_absent_classes(n_classes: int) -> None:
    """The rank-based AUC (fast enough for the ensemble's and bootstrap's hundreds of calls) is scikit-learn's."""
    rng = np.random.default_rng(n_classes)
    labels = [f"c{i}" for i in range(n_classes)]
    info = TaskInfo("classification", "roc_auc", True, tuple(labels))
    y = rng.choice(labels[:-1] if n_classes > 2 else labels, size=300).astype(object)  # one class absent
    proba = np.round(rng.dirichlet(np.ones(n_classes), size=300), 1)  # rounded: many ties
    present = [i for i, label in enumerate(labels) if (y == label).any()]
    expected = np.mean([skm.roc_auc_score(y == labels[i], proba[:, i]) for i in present])
    assert score("roc_auc", info, y, proba) == pytest.approx(expected, abs=1e-12)


def test_roc_auc_of_one_class_is_undefined() -> None:
    info = TaskInfo("classification", "roc_auc", True, ("a", "b"))
    assert math.isnan(score("roc_auc", info, np.array(["a", "a"], dtype=object), np.array([[0.4, 0.6], [0.3, 0.7]])))
