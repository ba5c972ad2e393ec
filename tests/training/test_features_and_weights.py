"""Date parts and ensemble weights: the engineered calendar features and the NNLS / greedy blend choice."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adaptml.training.ensemble import ensemble_weights, fold_scores, greedy_weights, nnls_weights
from adaptml.training.evaluation import score
from adaptml.training.features import DateParts
from adaptml.training.task import TaskInfo

REGRESSION = TaskInfo("regression", "rmse", False)


def test_date_parts_include_iso_week_and_days_since_epoch() -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(["2015-07-01", None, "2016-01-03"]), "n": [1, 2, 3]})
    parts = DateParts(("when",)).transform(frame)
    assert "when" not in parts.columns and list(parts["n"]) == [1, 2, 3]
    assert parts.loc[0, ["when_year", "when_month", "when_day", "when_day_of_week"]].tolist() == [2015, 7, 1, 2]
    assert parts.loc[0, "when_week"] == 27 and parts.loc[2, "when_week"] == 53  # ISO week of 2016-01-03
    assert parts.loc[2, "when_days"] - parts.loc[0, "when_days"] == 186
    assert parts.loc[1].drop("n").isna().all()


def test_nnls_weights_recover_a_blend_and_ignore_a_useless_model() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=500), rng.normal(size=500)
    y = 0.7 * a + 0.3 * b
    weights = nnls_weights({"a": a, "b": b, "noise": -y + rng.normal(size=500)}, y)
    assert set(weights) == {"a", "b"}
    assert abs(weights["a"] - 0.7) < 0.05 and abs(sum(weights.values()) - 1.0) < 1e-9


def test_ensemble_weights_keep_the_better_out_of_fold_blend() -> None:
    rng = np.random.default_rng(1)
    truth = rng.normal(size=400)
    outputs = {"a": truth + rng.normal(0, 1, 400), "b": truth + rng.normal(0, 1, 400)}
    chosen = ensemble_weights(outputs, truth, REGRESSION)

    def rmse(weights: dict[str, float]) -> float:
        blended = sum(outputs[n] * w for n, w in weights.items()) / sum(weights.values())
        return float(np.sqrt(np.mean((blended - truth) ** 2)))

    assert rmse(chosen) <= rmse(greedy_weights(outputs, truth, REGRESSION)) + 1e-12
    assert rmse(chosen) <= rmse(nnls_weights(outputs, truth)) + 1e-12


def test_fold_scores_score_the_blend_on_each_held_out_fold() -> None:
    rng = np.random.default_rng(2)
    truth = rng.normal(size=300)
    outputs = {"a": truth + rng.normal(0, 0.5, 300), "b": truth + rng.normal(0, 0.5, 300)}
    folds = np.arange(300) % 3
    splits = [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in range(3)]

    alone = fold_scores(outputs, {"a": 1.0}, truth, REGRESSION, splits)
    assert alone == [score("rmse", REGRESSION, truth[held], outputs["a"][held]) for _, held in splits]
    # two independent errors of equal size average out: the even blend beats either model on every fold
    even = fold_scores(outputs, {"a": 0.5, "b": 0.5}, truth, REGRESSION, splits)
    assert all(e < a for e, a in zip(even, alone, strict=True))
