"""An XGBoost booster's trees (its JSON model) as a ``TreeTable``, and its objective's output transform.

XGBoost's own rules, from its CPU predictor: features are float32, a number goes left when ``x < condition``, a
missing value goes the node's default way, a category goes right when it is in the node's set (a negative one or
one past the set's range goes left), a leaf's value is its ``split_condition``, and the margin (the base score's
margin plus every tree's leaf, tree by tree) is summed in float32. Only plain gbtree models with one value per leaf
and the objectives below are known; anything else is refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import float32, njit

from adaptml.serving.compiled.columns import CompileRefused
from adaptml.serving.compiled.trees import CATEGORY_SLOTS, OneTree, TreeTable, merge_trees

__all__ = ["warm_transforms", "xgboost_table"]

Transform = Callable[[np.ndarray], np.ndarray]


@njit(nogil=True, cache=True)
def _sigmoid(margin):  # noqa: ANN001, ANN202
    """XGBoost's ``common::Sigmoid`` on float32: ``1 / (expf(min(-x, 88.7)) + 1)``, with the C library's ``expf``
    (numpy's own float32 exp differs from it in the last bit for about one value in four)."""
    out = np.empty(margin.shape[0], dtype=np.float32)
    for i in range(margin.shape[0]):
        out[i] = float32(1.0) / (float32(math.exp(min(-margin[i], float32(88.7)))) + float32(1.0))
    return out


@njit(nogil=True, cache=True)
def _softmax_rows(margin):  # noqa: ANN001, ANN202
    """XGBoost's ``common::Softmax`` per row on float32: ``expf(x - max)``, summed in double, each divided by the
    sum cast to float."""
    out = np.empty_like(margin)
    for row in range(margin.shape[0]):
        top = margin[row, 0]
        for k in range(1, margin.shape[1]):
            top = max(top, margin[row, k])
        total = 0.0
        for k in range(margin.shape[1]):
            out[row, k] = float32(math.exp(margin[row, k] - top))
            total += out[row, k]
        for k in range(margin.shape[1]):
            out[row, k] = out[row, k] / float32(total)
    return out


def _logistic(margin: np.ndarray) -> np.ndarray:
    return np.asarray(_sigmoid(np.ascontiguousarray(margin, dtype="float32").ravel()))


def _softmax(margin: np.ndarray) -> np.ndarray:
    return np.asarray(_softmax_rows(np.ascontiguousarray(margin, dtype="float32")))


@njit(nogil=True, cache=True)
def _logit(base):  # noqa: ANN001, ANN202
    """XGBoost's ``ProbToMargin`` for the logistic objective on float32: ``-logf(1 / p - 1)``, with the C library's
    ``logf`` (numpy's float32 log differs from it in the last bit for about one base score in six)."""
    out = np.empty_like(base)
    for i in range(base.shape[0]):
        out[i] = -math.log(float32(1.0) / base[i] - float32(1.0))
    return out


def _base_margin(objective: str, base: np.ndarray) -> np.ndarray:
    if objective == "binary:logistic":
        return np.asarray(_logit(np.ascontiguousarray(base, dtype="float32")))
    return base.astype("float32")


OBJECTIVES: dict[str, Transform] = {
    "binary:logistic": _logistic,
    "multi:softprob": _softmax,
    "reg:squarederror": lambda margin: margin.ravel(),
    "reg:absoluteerror": lambda margin: margin.ravel(),
}


def _tree(tree: dict[str, Any], column: int, outputs: int) -> OneTree:
    if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
        raise CompileRefused("XGBoost trees with vector leaves")
    left = np.asarray(tree["left_children"], dtype="int64")
    right = np.asarray(tree["right_children"], dtype="int64")
    condition = np.asarray(tree["split_conditions"], dtype="float32").astype("float64")
    leaf = left < 0
    values = np.zeros((len(left), outputs))
    values[leaf, column] = condition[leaf]
    nan_left = np.asarray(tree["default_left"], dtype=bool)
    nodes = np.asarray(tree["categories_nodes"], dtype="int64")
    categories = np.ones((len(nodes), CATEGORY_SLOTS + 1), dtype=bool)  # the last slot: an invalid category goes left
    segments = zip(tree["categories_segments"], tree["categories_sizes"], strict=True)
    for row, (start, size) in enumerate(segments):
        chosen = np.asarray(tree["categories"][start : start + size], dtype="int64")
        if chosen.size and chosen.max() >= CATEGORY_SLOTS:
            raise CompileRefused("an XGBoost categorical split on a category past 255")
        categories[row, chosen] = False
    split = np.asarray(tree["split_indices"])
    return OneTree(split, condition, left, right, nan_left, values, nodes, categories)


def xgboost_table(booster: Any) -> tuple[TreeTable, Transform]:
    """The booster's trees and the transform from margins to what its scikit-learn wrapper's ``predict_proba`` and
    ``predict`` return: with early stopping (a ``best_iteration``), the trees up to that iteration only."""
    learner = json.loads(bytes(booster.save_raw("json")))["learner"]
    objective = learner["objective"]["name"]
    booster_kind = learner["gradient_booster"]["name"]
    if booster_kind != "gbtree" or objective not in OBJECTIVES:
        raise CompileRefused(f"XGBoost {booster_kind} with objective {objective}")
    model = learner["gradient_booster"]["model"]
    if int(model["gbtree_model_param"].get("num_parallel_tree", "1")) != 1:
        raise CompileRefused("XGBoost with parallel trees")
    params = learner["learner_model_param"]
    outputs = max(1, int(params.get("num_class", "0")))
    base = np.asarray(json.loads(params["base_score"].replace("E", "e")), dtype="float64").ravel()
    if base.size == 1 and outputs > 1:
        base = np.repeat(base, outputs)
    kept = len(model["trees"])
    if booster.attr("best_iteration") is not None:
        kept = int(model["iteration_indptr"][int(booster.attr("best_iteration")) + 1])
    chosen = zip(model["trees"][:kept], model["tree_info"][:kept], strict=True)
    trees = [_tree(tree, int(column), outputs) for tree, column in chosen]
    margin = _base_margin(objective, base)
    table = merge_trees(trees, margin, strict_less=True, as_float32=True, accumulate="float32")
    return table, OBJECTIVES[objective]


def warm_transforms() -> None:
    """Compile the transforms now (the image build runs this with ``walk.warm``)."""
    margin = np.zeros((1, 2), dtype="float32")
    _logistic(margin[:, 0])
    _softmax(margin)
    _logit(np.full(1, 0.5, dtype="float32"))
