"""The batch summary above the results table, and the page's table: inputs first and pinned, probabilities rounded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptml.serving.loaded import ModelInfo
from adaptml.serving.predict import ModelOutput, PredictionResult
from adaptml.serving.summary import summarize
from adaptml.serving.tables import display_table, results_frame, to_safe_csv


def _classifier(name: str, labels: list[str], p_yes: list[float], errors: dict[int, str] | None = None) -> ModelOutput:
    proba = np.column_stack([1 - np.asarray(p_yes), np.asarray(p_yes)])
    return ModelOutput(name, np.array(labels, dtype=object), proba, ("no", "yes"), errors or {})


def _result(task: str, outputs: list[ModelOutput], rows: int) -> PredictionResult:
    infos = tuple(ModelInfo(o.name, rank, "m", 0.9, True) for rank, o in enumerate(outputs, start=1))
    return PredictionResult("p", "v1", task, infos, tuple(outputs), pd.DataFrame({"x": np.arange(rows) + 0.5}))


def classification() -> PredictionResult:
    best = _classifier("lgbm", ["yes", "no", "yes", "no"], [0.912345, 0.05, 0.55, 0.41])
    other = _classifier("logit", ["yes", "yes", "yes", "no"], [0.8, 0.6, 0.7, 0.2], errors={3: "ValueError: x"})
    dummy = _classifier("dummy", ["no"] * 4, [0.3] * 4)
    return _result("classification", [best, other, dummy], 4)


def test_class_counts_per_model_most_frequent_first_and_failed_cells_counted():
    summary = summarize(classification(), exclude={"dummy"})
    by_name = {model.name: model for model in summary.models}
    assert by_name["lgbm"].counts == (("yes", 2), ("no", 2))
    assert by_name["logit"].counts == (("yes", 3),) and by_name["logit"].failed == 1
    assert by_name["dummy"].counts == (("no", 4),)  # shown, but never compared


def test_disagreement_ignores_the_baseline_and_failed_cells():
    summary = summarize(classification(), exclude={"dummy"})
    assert summary.compared == ("lgbm", "logit")
    assert summary.disagreements == 1  # row 2 only: row 4 failed for logit, the dummy is left out
    assert summarize(classification()).disagreements == 3  # with the dummy, rows 1, 2 and 3 differ


def test_rows_near_the_threshold_use_the_best_models_probability():
    summary = summarize(classification(), exclude={"dummy"})
    assert (summary.best, summary.positive, summary.threshold) == ("lgbm", "yes", 0.5)
    assert summary.near_threshold == 2  # 0.55 and 0.41 are within 0.1 of 0.5; 0.91 and 0.05 are not
    assert summarize(classification(), exclude={"dummy"}, margin=0.01).near_threshold == 0


def test_regression_distribution_and_spread_tolerance():
    a = ModelOutput("ridge", np.array([100.0, 200.0, 0.0, 50.0]))
    b = ModelOutput("forest", np.array([105.0, 250.0, 1.0, np.nan]), errors={3: "ValueError: nan"})
    summary = summarize(_result("regression", [a, b], 4))
    ridge = summary.models[0].distribution
    assert ridge is not None and (ridge.minimum, ridge.median, ridge.mean, ridge.maximum) == (0.0, 75.0, 87.5, 200.0)
    assert summary.models[1].failed == 1
    # scale: max(row mean |prediction|, batch median |prediction| = 100); 10% tolerance -> only row 2 (spread 50)
    assert summary.disagreements == 1 and "10%" in summary.rule
    assert summarize(_result("regression", [a, b], 4), tolerance=0.01).disagreements == 2
    assert summary.near_threshold is None


def test_one_model_has_nothing_to_compare_and_multiclass_has_no_threshold():
    single = summarize(_result("classification", [_classifier("lgbm", ["yes", "no"], [0.9, 0.2])], 2))
    assert single.disagreements is None and single.near_threshold == 0
    three = ModelOutput("m", np.array(["a", "b"], dtype=object), np.full((2, 3), 1 / 3), ("a", "b", "c"))
    assert summarize(_result("classification", [three], 2)).near_threshold is None


def test_the_page_table_puts_inputs_first_pinned_and_rounds_probabilities_the_csv_keeps_them():
    result = classification()
    shown = display_table(result, limit=10, inputs_first=True)
    assert [h.key for h in shown.headers][:3] == ["x", "lgbm_prediction", "lgbm_proba_no"]
    assert [h.pinned for h in shown.headers] == [True] + [False] * (len(shown.headers) - 1)
    cell = shown.rows[0][[h.key for h in shown.headers].index("lgbm_proba_yes")]
    assert cell.text == "0.912" and float(cell.title) == pytest.approx(0.912345) and cell.number
    assert display_table(result, limit=10).headers[0].key == "lgbm_prediction"  # the terminal's order is unchanged
    csv = to_safe_csv(results_frame(result)).decode()
    assert csv.splitlines()[0].startswith("lgbm_prediction,") and "0.912345" in csv
