"""Tree tables (serving/compiled/trees.py, walked by walk.py): the leaves each row reaches, summed, equal the
libraries' own raw outputs (sklearn, HistGradientBoosting, XGBoost, LightGBM), for one row at a time and for
batches, with missing values, categorical splits and unknown categories."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from sklearn.ensemble import (
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from adaptml.serving.compiled.columns import CompileRefused
from adaptml.serving.compiled.lightgbm_trees import lightgbm_table
from adaptml.serving.compiled.trees import TreeTable, hgb_table, read_through, sklearn_forest_table
from adaptml.serving.compiled.xgboost_trees import xgboost_table

ROWS = 400
CATEGORIES = 7


def _data(classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two numbers (one with missing values) and a category code column (0..6, some missing)."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(ROWS, 2))
    numbers[rng.random(ROWS) < 0.15, 1] = np.nan
    codes = rng.integers(0, CATEGORIES, ROWS).astype("float64")
    codes[rng.random(ROWS) < 0.1] = np.nan
    signal = numbers[:, 0] + np.nan_to_num(numbers[:, 1]) + np.isin(codes, (1, 4)) * 1.5
    y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1])) if classes else signal
    return np.column_stack((numbers, codes)), y


def _probe_rows(matrix: np.ndarray) -> np.ndarray:
    """The data plus rows the fit never saw: an unknown category, a negative code, every column missing."""
    extra = np.array([[0.1, 0.2, CATEGORIES + 3.0], [0.1, 0.2, -1.0], [np.nan, np.nan, np.nan]])
    return np.vstack((matrix, extra))


def _assert_table(table: TreeTable, native: Any, matrix: np.ndarray, *, tolerance: float = 0.0) -> None:
    expected = np.asarray(native(matrix), dtype="float64").reshape(len(matrix), -1)
    batch = table.raw(matrix)
    singles = np.vstack([table.raw(matrix[i : i + 1]) for i in range(0, len(matrix), 7)])
    np.testing.assert_allclose(batch, expected, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(singles, expected[::7], rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("model", [RandomForestClassifier(n_estimators=15, random_state=0)])
def test_forest_classifier_table_sums_the_normalised_leaves(model: Any) -> None:
    x, y = _data(classes=3)
    model.fit(x, y)
    table = sklearn_forest_table(model)
    _assert_table(table, lambda m: model.predict_proba(m) * len(model.estimators_), _probe_rows(x), tolerance=1e-12)


@pytest.mark.parametrize("kind", [RandomForestRegressor, ExtraTreesRegressor])
def test_forest_regressor_table(kind: Any) -> None:
    x, y = _data(classes=0)
    model = kind(n_estimators=10, random_state=0).fit(x, y)
    table = sklearn_forest_table(model)
    _assert_table(table, lambda m: model.predict(m) * len(model.estimators_), _probe_rows(x), tolerance=1e-12)


@pytest.mark.parametrize(
    "model",
    [
        HistGradientBoostingClassifier(max_iter=30, categorical_features=[2], random_state=0),
        HistGradientBoostingRegressor(max_iter=30, categorical_features=[2], random_state=0),
    ],
)
def test_hist_gradient_boosting_table_equals_raw_predict(model: Any) -> None:
    x, y = _data(classes=3 if isinstance(model, HistGradientBoostingClassifier) else 0)
    model.fit(x, y)
    probe = _probe_rows(x)
    layout = model._preprocessor.transform(probe)  # HGB's own: the category first, as its ordinal code
    _assert_table(hgb_table(model), lambda m: model._raw_predict(probe), layout)


def test_read_through_reorders_and_recodes_columns() -> None:
    x, y = _data(classes=2)
    model = HistGradientBoostingClassifier(max_iter=20, categorical_features=[2], random_state=0).fit(x, y)
    # another matrix: the numbers first, then the category spelled with codes shifted by two (0, 1: unknown)
    other = np.column_stack((x[:, 0], x[:, 1], x[:, 2] + 2))
    codes = np.concatenate(([np.nan, np.nan], np.arange(CATEGORIES, dtype="float64")))
    table = read_through(hgb_table(model), np.array([2, 0, 1]), {2: codes})
    np.testing.assert_array_equal(table.raw(other), model._raw_predict(x))
    unknown = other[:5].copy()
    unknown[:, 2] = 1.0  # a code mapped to missing goes the missing way
    missing = x[:5].copy()
    missing[:, 2] = np.nan
    np.testing.assert_array_equal(table.raw(unknown), model._raw_predict(missing))


@pytest.mark.parametrize(
    ("params", "classes"),
    [
        ({"objective": "binary:logistic"}, 2),
        ({"objective": "multi:softprob"}, 3),
        ({"objective": "reg:squarederror"}, 0),
    ],
)
def test_xgboost_table_with_categorical_splits(params: dict[str, Any], classes: int) -> None:
    x, y = _data(classes=classes)
    train = xgb.DMatrix(x, label=y, feature_types=["q", "q", "c"], enable_categorical=True)
    extra = {"num_class": classes} if classes > 2 else {}
    booster = xgb.train({**params, **extra, "max_depth": 4, "nthread": 1}, train, num_boost_round=25)
    table, transform = xgboost_table(booster)
    probe = _probe_rows(x)[:-2]  # XGBoost itself refuses negative and unseen-past-range codes on a DMatrix
    _assert_table(table, lambda m: booster.inplace_predict(m, predict_type="margin"), probe, tolerance=1e-5)
    native = booster.inplace_predict(probe)
    np.testing.assert_array_equal(transform(table.raw(probe)).reshape(native.shape), native)  # to the last bit


@pytest.mark.parametrize(
    ("params", "classes"),
    [
        ({"objective": "binary"}, 2),
        ({"objective": "multiclass", "num_class": 3}, 3),
        ({"objective": "regression"}, 0),
        ({"objective": "huber"}, 0),
    ],
)
@pytest.mark.parametrize("missing_in_training", [True, False])
def test_lightgbm_table_with_categorical_splits(
    params: dict[str, Any], classes: int, missing_in_training: bool
) -> None:
    """Missing values seen in training (missing type NaN: the default way) or only at prediction (missing type
    None: read as 0.0), categorical splits, unknown and negative codes: the table equals LightGBM's own output."""
    x, y = _data(classes=classes)
    if not missing_in_training:
        x = np.nan_to_num(x, nan=1.0)
    settings = {**params, "num_leaves": 15, "min_data_in_leaf": 5, "num_threads": 1, "verbose": -1}
    booster = lgb.train(settings, lgb.Dataset(x, label=y, categorical_feature=[2]), num_boost_round=25)
    table, transform = lightgbm_table(booster)
    probe = _probe_rows(_data(classes=classes, seed=1)[0])
    _assert_table(table, lambda m: booster.predict(m, raw_score=True), probe)
    native = booster.predict(probe)
    np.testing.assert_array_equal(transform(table.raw(probe)).reshape(native.shape), native)  # to the last bit


def test_lightgbm_table_refuses_zero_as_missing() -> None:
    x, y = _data(classes=2)
    settings = {"objective": "binary", "zero_as_missing": True, "verbose": -1, "num_threads": 1}
    booster = lgb.train(settings, lgb.Dataset(np.nan_to_num(x), label=y), num_boost_round=5)
    with pytest.raises(CompileRefused, match="zero-as-missing"):
        lightgbm_table(booster)


def test_threads_split_the_rows_without_changing_a_sum() -> None:
    x, y = _data(classes=2)
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(x, y)
    many = np.repeat(x, 3, axis=0)
    np.testing.assert_array_equal(hgb_table(model).raw(many, threads=3), hgb_table(model).raw(many))


def test_lightgbm_table_with_one_leaf_trees() -> None:
    """Trees that could not split (one leaf each: a constant) are summed like any other."""
    x, y = _data(classes=2)
    settings = {"objective": "binary", "min_data_in_leaf": len(x), "verbose": -1, "num_threads": 1}
    booster = lgb.train(settings, lgb.Dataset(x, label=y), num_boost_round=3)
    table, transform = lightgbm_table(booster)
    assert len(table.feature) == len(table.roots)  # (LightGBM stops after the first tree that cannot split)
    probe = _probe_rows(x)
    np.testing.assert_array_equal(transform(table.raw(probe)), booster.predict(probe))


@pytest.mark.parametrize("base_score", np.linspace(0.02, 0.98, 49).round(4).tolist())
def test_xgboost_logistic_base_margin_to_the_last_bit(base_score: float) -> None:
    """The starting margin of a logistic model is XGBoost's ``-logf(1/p - 1)`` exactly (trees that add nothing)."""
    x, y = _data(classes=2)
    params = {"objective": "binary:logistic", "base_score": base_score, "eta": 0.0, "max_depth": 2, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=2)
    table, transform = xgboost_table(booster)
    margin = booster.inplace_predict(x, predict_type="margin")
    np.testing.assert_array_equal(table.raw(x).astype("float32").ravel(), margin)
    np.testing.assert_array_equal(transform(table.raw(x)), booster.inplace_predict(x))


def test_xgboost_table_stops_at_the_best_iteration() -> None:
    """An early-stopped model predicts with the trees up to its best iteration, as its scikit-learn wrapper does."""
    x, y = _data(classes=2)
    model = xgb.XGBClassifier(n_estimators=60, early_stopping_rounds=3, max_depth=3, learning_rate=0.5, n_jobs=1)
    model.fit(x[:300], y[:300], eval_set=[(x[300:], y[300:])], verbose=False)
    assert model.best_iteration < 59
    table, transform = xgboost_table(model.get_booster())
    np.testing.assert_array_equal(transform(table.raw(x)), model.predict_proba(x)[:, 1])


def test_lightgbm_table_refuses_a_square_root_target() -> None:
    x, y = _data(classes=0)
    settings = {"objective": "regression", "reg_sqrt": True, "verbose": -1, "num_threads": 1}
    booster = lgb.train(settings, lgb.Dataset(x, label=np.abs(y)), num_boost_round=5)
    with pytest.raises(CompileRefused, match="square root"):
        lightgbm_table(booster)


def test_a_matrix_narrower_than_the_splits_is_refused() -> None:
    x, y = _data(classes=0)
    table = hgb_table(HistGradientBoostingRegressor(max_iter=5).fit(x, y))
    with pytest.raises(ValueError, match="columns"):
        table.raw(x[:, :1])
