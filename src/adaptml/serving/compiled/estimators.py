"""Fitted estimators as their native fast calls on a float64 matrix, one thread, no per-call validation.

Each returns ``(labels or values, probabilities or None)`` computed the way the estimator's own ``predict`` and
``predict_proba`` compute them. Known: linear models (a dot product), random forests and extra trees (their tree
tables for a few rows, their trees' own arrays beyond), HistGradientBoosting, and LightGBM and XGBoost through
``training/boosting.py`` (their tree tables, for every row count), and the prior/mean dummies. Anything else is
refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge, RidgeCV
from sklearn.utils.extmath import softmax

from adaptml.serving.compiled import lightgbm_trees, walk, xgboost_trees
from adaptml.serving.compiled.columns import CompileRefused
from adaptml.serving.compiled.encoders import Encoded, category_codes
from adaptml.serving.compiled.lightgbm_trees import lightgbm_table
from adaptml.serving.compiled.trees import TreeTable, hgb_table, read_through, sklearn_forest_table
from adaptml.serving.compiled.xgboost_trees import xgboost_table
from adaptml.serving.threads import batch_threads
from adaptml.training.boosting import BoosterClassifier, BoosterRegressor, HGBClassifier, HGBRegressor

__all__ = ["TABLE_ROWS", "Output", "Scorer", "compile_estimator", "warm"]

Output = tuple[np.ndarray, np.ndarray | None]
LINEAR_REGRESSORS = (Ridge, RidgeCV, LinearRegression, Lasso, ElasticNet)
FORESTS = (RandomForestRegressor, RandomForestClassifier, ExtraTreesRegressor, ExtraTreesClassifier)
TABLE_ROWS = 16  # up to this many rows a forest walks its table; beyond, its trees' own (deep trees) arrays


@dataclass(frozen=True)
class Scorer:
    """A compiled estimator: its family (for the gate's tolerance), classes, and ``run(matrix) -> Output``."""

    family: str
    run: Callable[[np.ndarray], Output]
    classes: tuple[Any, ...] = ()


def _linear(model: Any) -> Scorer:
    coef, intercept = np.asarray(model.coef_), model.intercept_
    if isinstance(model, LogisticRegression):
        classes = np.asarray(model.classes_)

        def classify(matrix: np.ndarray) -> Output:
            decision = matrix @ coef.T + intercept
            if len(classes) <= 2:
                decision = decision.ravel()
                positive = expit(decision)
                return classes[(decision > 0).astype(int)], np.vstack([1 - positive, positive]).T
            return classes[decision.argmax(axis=1)], softmax(decision.copy(), copy=False)

        return Scorer("linear", classify, tuple(classes.tolist()))
    return Scorer("linear", lambda matrix: (matrix @ coef.T + intercept, None))


def _forest(model: Any) -> Scorer:
    trees = [estimator.tree_ for estimator in model.estimators_]
    table = sklearn_forest_table(model)
    if not hasattr(model, "classes_"):
        values = [tree.value[:, 0, 0] for tree in trees]  # what ``tree.predict`` takes for each leaf

        def regress(matrix: np.ndarray) -> Output:
            if len(matrix) <= TABLE_ROWS:
                return table.raw(matrix)[:, 0] / len(trees), None
            data = np.ascontiguousarray(matrix, dtype="float32")
            total = np.zeros(len(data))
            for tree, value in zip(trees, values, strict=True):
                total += value[tree.apply(data)]
            return total / len(trees), None

        return Scorer("forest", regress)
    classes, width = np.asarray(model.classes_), len(model.classes_)
    leaves = [_leaf_probabilities(tree, width) for tree in trees]

    def classify(matrix: np.ndarray) -> Output:
        total = table.raw(matrix) if len(matrix) <= TABLE_ROWS else _forest_native(trees, leaves, matrix)
        total /= len(trees)
        return classes.take(np.argmax(total, axis=1), axis=0), total

    return Scorer("forest", classify, tuple(classes.tolist()))


def _leaf_probabilities(tree: Any, width: int) -> np.ndarray:
    """Each node's class probabilities as a tree's ``predict_proba`` makes them from its leaf's values (the same
    division, once per node instead of once per row)."""
    proba = tree.value[:, 0, :width]
    normalizer = proba.sum(axis=1)[:, np.newaxis]
    normalizer[normalizer == 0.0] = 1.0
    return np.asarray(proba / normalizer, dtype="float64")


def _forest_native(trees: list[Any], leaves: list[np.ndarray], matrix: np.ndarray) -> np.ndarray:
    """The sum of the trees' probabilities, in the trees' order (as the forest's ``predict_proba`` with one job)."""
    data = np.ascontiguousarray(matrix, dtype="float32")
    total = np.zeros((len(data), leaves[0].shape[1]))
    for tree, proba in zip(trees, leaves, strict=True):
        total += proba[tree.apply(data)]
    return total


def _hgb_table(model: Any, encoded: Encoded) -> TreeTable:
    """The model's tree table reading the encoder's matrix directly (HistGradientBoosting's own preprocessor puts
    the categorical columns first, as its ordinal codes; ``read_through`` folds that into the table)."""
    table = hgb_table(model)
    if model._preprocessor is None:
        return table
    if not encoded.native:
        raise CompileRefused("HistGradientBoosting with categories from a non-native encoder")
    is_categorical = np.asarray(model.is_categorical_, dtype=bool)
    order = np.concatenate([np.flatnonzero(is_categorical), np.flatnonzero(~is_categorical)])
    ordinal = model._preprocessor.named_transformers_["encoder"]
    names = [*encoded.numeric, *encoded.categorical]
    remaps = {}
    for position, index in enumerate(np.flatnonzero(is_categorical)):
        native = encoded.categories.get(names[index])
        if native is None:
            raise CompileRefused("HistGradientBoosting treats a numeric column as categorical")
        seen = [str(v) for v in ordinal.categories_[position]]
        codes = category_codes(np.asarray(native, dtype=object), seen).astype("float64")
        codes[codes < 0] = np.nan
        remaps[int(index)] = codes
    return read_through(table, order, remaps)


def _hist_gradient_boosting(model: Any, encoded: Encoded) -> Scorer:
    table = _hgb_table(model, encoded)

    def raw(matrix: np.ndarray) -> np.ndarray:
        return table.raw(matrix, threads=batch_threads(len(matrix)))

    if not hasattr(model, "classes_"):
        return Scorer("hist_gradient_boosting", lambda matrix: (model._loss.link.inverse(raw(matrix).ravel()), None))
    classes = np.asarray(model.classes_)

    def classify(matrix: np.ndarray) -> Output:
        scores = raw(matrix)
        encoded_classes = (scores.ravel() > 0).astype(int) if scores.shape[1] == 1 else np.argmax(scores, axis=1)
        return classes.take(encoded_classes, axis=0), model._loss.predict_proba(scores)

    return Scorer("hist_gradient_boosting", classify, tuple(classes.tolist()))


def _booster_call(model: Any, encoded: Encoded) -> Callable[[np.ndarray], np.ndarray]:
    """The booster's tree table and output transform: what its ``predict`` (LightGBM) or ``inplace_predict``
    (XGBoost) returns, for every row count."""
    if not encoded.native:
        raise CompileRefused(f"{model.library} on a non-native encoding")
    if model.library == "lightgbm":
        booster = model.model_.booster_
        expected = [encoded.categories[name] for name in encoded.categorical]
        if (booster.pandas_categorical or []) != expected:
            raise CompileRefused("LightGBM's categories differ from its encoder's")
        table, transform = lightgbm_table(booster)
    elif model.library == "xgboost":
        table, transform = xgboost_table(model.model_.get_booster())
    else:
        raise CompileRefused(f"unknown booster library {model.library!r}")
    return lambda matrix: transform(table.raw(matrix, threads=batch_threads(len(matrix))))


def _booster(model: Any, encoded: Encoded) -> Scorer:
    call = _booster_call(model, encoded)
    if isinstance(model, BoosterRegressor):
        return Scorer(model.library, lambda matrix: (np.asarray(call(matrix), dtype="float64"), None))
    classes = np.asarray(model.classes_)

    def classify(matrix: np.ndarray) -> Output:
        proba = call(matrix)
        if proba.ndim == 1:  # binary: both libraries' wrappers stack (1 - p, p) in the output's own precision
            proba = np.vstack((1.0 - proba, proba)).transpose()
        proba = np.asarray(proba, dtype="float64")
        return classes[np.argmax(proba, axis=1)], proba

    return Scorer(model.library, classify, tuple(classes.tolist()))


def _dummy(model: Any) -> Scorer:
    if isinstance(model, DummyRegressor):
        if model.n_outputs_ != 1:
            raise CompileRefused("a multi-output dummy regressor")
        constant = np.asarray(model.constant_).ravel()[0]
        return Scorer("dummy", lambda matrix: (np.full(len(matrix), constant), None))
    if model.strategy != "prior" or model.n_outputs_ != 1:
        raise CompileRefused(f"dummy classifier strategy {model.strategy!r}")
    classes, prior = np.asarray(model.classes_), np.asarray(model.class_prior_, dtype="float64")
    label = classes[prior.argmax()]

    def classify(matrix: np.ndarray) -> Output:
        return np.full(len(matrix), label, dtype=classes.dtype), np.tile(prior, (len(matrix), 1))

    return Scorer("dummy", classify, tuple(classes.tolist()))


def compile_estimator(model: Any, encoded: Encoded) -> Scorer:
    """The native fast call of a fitted final estimator, given the encoder that feeds it."""
    kind = type(model)
    if kind is LogisticRegression or kind in LINEAR_REGRESSORS:
        return _linear(model)
    if kind in FORESTS:
        return _forest(model)
    if kind in (HistGradientBoostingRegressor, HistGradientBoostingClassifier, HGBRegressor, HGBClassifier):
        return _hist_gradient_boosting(model, encoded)
    if kind in (BoosterRegressor, BoosterClassifier):
        return _booster(model, encoded)
    if kind in (DummyRegressor, DummyClassifier):
        return _dummy(model)
    raise CompileRefused(f"unknown estimator {kind.__name__}")


def warm() -> None:
    """Compile every numba loop the scorers use (the tree walk, the boosters' output transforms) now: the image
    build runs this, so its containers load them from ``NUMBA_CACHE_DIR`` instead of compiling on first load."""
    walk.warm()
    xgboost_trees.warm_transforms()
    lightgbm_trees.warm_transforms()
