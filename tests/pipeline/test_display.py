"""The training summary in a narrow terminal: rendered by rich at 80 columns, read back as plain text."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest
from rich.console import Console

from adaptml.pipeline.display import show_result
from adaptml.pipeline.result import TrainResult
from adaptml.serving.batch import preview_table
from adaptml.serving.tables import Cell, DisplayTable, Header

MODELS = ["hist_gradient_boosting", "ensemble", "lightgbm", "random_forest", "xgboost", "ridge", "dummy"]


def _board(metric: str, others: list[str]) -> pd.DataFrame:
    rows = []
    for rank, model in enumerate(MODELS, start=1):
        score = 0.912345678 - rank / 1000
        rows.append(
            {
                "rank": rank,
                "model": model,
                metric: score,
                **{name: score / 3.3 for name in others},
                f"cv_{metric}_mean": score - 0.00123456,
                f"cv_{metric}_std": 0.0123456789,
                "fit_seconds": 12.3456789 * rank,
                "predict_ms_per_1000": 1234.56789 / rank,
                "pickle_bytes": 12_345_678 * rank,
            }
        )
    return pd.DataFrame(rows)


def _result(**changes: Any) -> TrainResult:
    metric = changes.pop("metric", "balanced_accuracy")
    others = ["roc_auc", "accuracy", "f1", "precision", "recall", "log_loss", "mcc"]
    fields: dict[str, Any] = {
        "run_id": "r1",
        "version": "20240101T000000Z-abcdef",
        "up_to_date": False,
        "leaderboard": _board(metric, [o for o in others if o != metric]),
        "report_uri": "s3://bucket/demo/versions/20240101T000000Z-abcdef/eda/report.html",
        "metric": metric,
        "higher_is_better": True,
        "task": "classification",
    }
    return TrainResult(**(fields | changes))


BOX = set("┏┃┡│└")


def _whole_rows(lines: list[str]) -> bool:
    """Every line of the table ends with its right border: no column was cropped at the terminal's edge."""
    return all(line.rstrip()[-1] in "┓┃┩│┘" for line in lines if line[:1] in BOX)


def _render(result: TrainResult, width: int = 80) -> list[str]:
    console = Console(file=io.StringIO(), width=width, record=True, force_terminal=True, color_system=None)
    show_result(console, result)
    return console.export_text().splitlines()


@pytest.mark.parametrize("metric", ["balanced_accuracy", "roc_auc"])
def test_leaderboard_at_80_columns_shows_whole_cells_of_the_columns_that_matter(metric: str) -> None:
    lines = _render(_result(metric=metric))
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert _whole_rows(lines)
    text = "\n".join(lines)
    assert "…" not in text
    for model in MODELS:
        assert model in text
    assert "0.9113" in text  # the best primary metric in 4 significant digits
    assert "0.9101 ± 0.01235" in text  # CV mean ± std
    assert "12.35" in text  # fit seconds


def test_a_wide_terminal_shows_every_column() -> None:
    text = "\n".join(_render(_result(), width=200))
    assert "predict ms/1k" in text and "size MB" in text and "mcc" in text and "1,235" in text


def test_summary_names_what_selection_dropped_the_top_features_the_report_and_the_next_command() -> None:
    importance = [
        {"feature": "stars", "permutation": 0.123456, "gain_share": 0.4567},
        {"feature": "city", "permutation": 0.0456789, "gain_share": None},
    ]
    selection = {"kept": ["stars", "city"], "dropped": ["rooms", "noise"], "method": "permutation importance ..."}
    lines = _render(_result(selection=selection, importance=importance))
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    text = "\n".join(lines)
    assert "selection dropped 2 of 4 features: rooms, noise" in text
    assert "  1. stars: 0.1235; gain 45.7%" in text and "  2. city: 0.04568" in text
    assert "EDA report: s3://bucket/demo/versions/" in text and "in the app: /eda/report.html" in text
    assert "adaptml serve --config CONFIG" in text and "adaptml predict CONFIG INPUT.csv" in text


def test_the_best_models_held_out_importance_names_the_model_and_the_gain_source() -> None:
    importance = [
        {"feature": "stars", "permutation": 0.05, "gain_share": 0.6, "model": "ensemble", "gain_model": "lightgbm"},
        {"feature": "city", "permutation": 0.01, "gain_share": 0.3, "model": "ensemble", "gain_model": "lightgbm"},
    ]
    lines = _render(_result(importance=importance))
    text = "\n".join(lines)
    assert "top features of ensemble (permutation importance on the test split):" in text
    assert "(gain: share of lightgbm's total split gain)" in text
    assert "  1. stars: 0.05; gain 60.0%" in text and all(len(line) <= 80 for line in lines)


def test_selection_off_says_why_nothing_was_dropped_and_shows_no_importance() -> None:
    selection = {"kept": ["a"], "dropped": [], "method": "none: selection.enabled is off (every feature is kept)"}
    text = "\n".join(_render(_result(selection=selection)))
    assert "selection dropped no feature (selection.enabled is off (every feature is kept))" in text
    assert "top features" not in text


def _prediction_preview() -> tuple[DisplayTable, list[str]]:
    """Ten rows scored by every model of a binary classifier: prediction and two probabilities each, then inputs."""
    headers, models = [], MODELS[:6]
    for rank, model in enumerate(models, start=1):
        headers.append(Header(f"{model}_prediction", model, f"#{rank} · {model}", model=True))
        headers += [Header(f"{model}_p_{c}", f"P({c})", model, model=True) for c in ("<=50K", ">50K")]
    inputs = ["age", "workclass", "education", "hours_per_week", "native_country"]
    headers += [Header(name, name) for name in inputs]
    row = []
    for _ in models:
        row += [Cell(">50K"), Cell("0.123457", "0.12345678", number=True), Cell("0.876543", "0.87654322", number=True)]
    row += [Cell("39", number=True), Cell("State-gov"), Cell("Bachelors"), Cell("40", number=True), Cell("Cuba")]
    return DisplayTable(headers, [row] * 10, 1234), models


def test_predict_preview_at_80_columns_shows_the_best_models_predictions_whole() -> None:
    shown, models = _prediction_preview()
    table, left_out = preview_table(shown, models, 80)
    console = Console(file=io.StringIO(), width=80, record=True, color_system=None)
    console.print(table)
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert _whole_rows(lines)
    text = "\n".join(lines)
    assert "…" not in text and "first 10 of 1,234 rows" in text
    assert all(model in text for model in models[:5]) and ">50K" in text  # by rank, as many as fit
    assert "P(>50K)" not in text and "Bachelors" not in text
    assert left_out == len(shown.headers) - len(table.columns) > 0


def test_predict_preview_rounds_probabilities_to_4_significant_digits_when_wide() -> None:
    shown, models = _prediction_preview()
    table, left_out = preview_table(shown, models, 400)
    console = Console(file=io.StringIO(), width=400, record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert left_out == 0 and "0.1235" in text and "0.8765" in text and "0.123457" not in text
    assert "Bachelors" in text
