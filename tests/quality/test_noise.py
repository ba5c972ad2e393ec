"""The corpus table's noise judgement (bench/noise.py): weighted scores equal scikit-learn's on the rows a resample
draws, and the paired bootstrap calls clear differences wins or losses and small ones ties."""

from __future__ import annotations

import numpy as np
import pytest
from bench.noise import bootstrap_scores, compare, judge, resample_weights, weighted_auc, weighted_score
from sklearn.metrics import mean_squared_error, roc_auc_score


def _draw(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """One resample's weights and the row indices they stand for."""
    weights = next(resample_weights(rows, resamples=1, seed=7))
    return weights, np.repeat(np.arange(rows), weights.astype(int))


def test_weighted_auc_equals_sklearn_on_the_resampled_rows_with_ties() -> None:
    rng = np.random.default_rng(1)
    positive = rng.random(300) < 0.3
    scores = np.round(rng.random(300) + positive * 0.3, 1)  # rounded: many tied scores
    weights, rows = _draw(300)
    assert weighted_auc(positive, scores, weights) == pytest.approx(roc_auc_score(positive[rows], scores[rows]))
    assert weighted_auc(positive, scores, np.ones(300)) == pytest.approx(roc_auc_score(positive, scores))


def test_multiclass_is_the_mean_one_vs_rest_auc_and_rmse_is_weighted() -> None:
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 4, 400)
    proba = rng.dirichlet(np.ones(4), 400) + np.eye(4)[codes] * 0.2
    proba /= proba.sum(axis=1, keepdims=True)
    weights, rows = _draw(400)
    expected = roc_auc_score(codes[rows], proba[rows], multi_class="ovr", average="macro")
    assert weighted_score("roc_auc", codes, proba, weights) == pytest.approx(expected)

    truth, predicted = rng.normal(size=400), rng.normal(size=400)
    rmse = np.sqrt(mean_squared_error(truth[rows], predicted[rows]))
    assert weighted_score("rmse", truth, predicted, weights) == pytest.approx(rmse)


def test_a_resample_without_negatives_scores_nan_and_is_left_out() -> None:
    assert np.isnan(weighted_auc(np.array([True, True]), np.array([0.2, 0.9]), np.ones(2)))
    verdict = judge(np.array([0.9, np.nan, 0.8]), np.array([0.7, 0.6, np.nan]), observed=0.2, higher_is_better=True)
    assert verdict["resamples"] == 1


def test_bootstrap_scores_pair_up_across_tools() -> None:
    truth = np.linspace(0, 1, 50)
    first = bootstrap_scores("rmse", truth, truth + 0.1, resamples=20)
    again = bootstrap_scores("rmse", truth, truth + 0.1, resamples=20)
    np.testing.assert_array_equal(first, again)
    assert len(first) == 20


def test_clear_gap_is_a_win_or_loss_and_identical_predictions_tie() -> None:
    rng = np.random.default_rng(3)
    truth = rng.normal(size=500)
    good, bad = truth + rng.normal(scale=0.3, size=500), truth + rng.normal(scale=1.0, size=500)
    assert compare("rmse", truth, good, bad, higher_is_better=False)["verdict"] == "win"
    assert compare("rmse", truth, bad, good, higher_is_better=False)["verdict"] == "loss"
    same = compare("rmse", truth, good, good.copy(), higher_is_better=False)
    assert same["verdict"] == "tie" and same["difference"] == 0.0


def test_a_small_gap_on_few_rows_is_a_tie() -> None:
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 2, 60)
    base = codes + rng.normal(scale=1.0, size=60)
    nudged = base + rng.normal(scale=0.05, size=60)
    first, second = np.column_stack([-base, base]), np.column_stack([-nudged, nudged])
    result = compare("roc_auc", codes, first, second, higher_is_better=True)
    assert result["verdict"] == "tie"
    low, high = result["improvement_interval"]
    assert low < 0 < high
