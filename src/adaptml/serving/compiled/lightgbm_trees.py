"""A LightGBM booster's trees (its text model) as a ``TreeTable``, and its objective's output transform.

LightGBM's own rules, from its ``Tree::NumericalDecision`` and ``Tree::CategoricalDecision``: a number goes left
when ``x <= threshold`` (doubles, as the text model writes them, exactly); a missing value goes the node's default
way when the node's missing type is NaN, and is read as 0.0 when it is None; a category goes left when its bit is
set in the node's bitset, and a missing or unlisted one, or one that truncates to a negative number, goes right
(here a code between -1 and 0 goes right too; the encoders write whole codes or NaN). The raw score is the sum of
every tree's leaf, tree by tree, in float64. Nodes whose missing type is Zero (``zero_as_missing``), linear trees, and
objectives other than those below are refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from adaptml.serving.compiled.columns import CompileRefused
from adaptml.serving.compiled.trees import CATEGORY_SLOTS, OneTree, TreeTable, merge_trees

__all__ = ["lightgbm_table", "warm_transforms"]

Transform = Callable[[np.ndarray], np.ndarray]
CATEGORICAL_BIT, DEFAULT_LEFT_BIT = 1, 2
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
IDENTITY_OBJECTIVES = ("regression", "regression_l1", "huber", "fair", "quantile")


@njit(nogil=True, cache=True)
def _sigmoid(raw, scale):  # noqa: ANN001, ANN202
    """LightGBM's binary objective on a raw score, ``1 / (1 + exp(-scale * x))`` in double with the C library's
    ``exp`` (numpy's own exp differs from it in the last bit now and then)."""
    out = np.empty(raw.shape[0])
    for i in range(raw.shape[0]):
        out[i] = 1.0 / (1.0 + math.exp(-scale * raw[i]))
    return out


@njit(nogil=True, cache=True)
def _softmax_rows(raw):  # noqa: ANN001, ANN202
    """LightGBM's ``Common::Softmax`` per row: ``exp(x - max)``, summed, each divided by the sum, in double."""
    out = np.empty_like(raw)
    for row in range(raw.shape[0]):
        top = raw[row, 0]
        for k in range(1, raw.shape[1]):
            top = max(raw[row, k], top)
        total = 0.0
        for k in range(raw.shape[1]):
            out[row, k] = math.exp(raw[row, k] - top)
            total += out[row, k]
        for k in range(raw.shape[1]):
            out[row, k] /= total
    return out


def _softmax(raw: np.ndarray) -> np.ndarray:
    return np.asarray(_softmax_rows(np.ascontiguousarray(raw, dtype="float64")))


def _objective(text: str) -> Transform:
    """What ``Booster.predict`` returns from the raw scores, for the objective line of the text model."""
    name, *options = text.split()
    if "sqrt" in options:  # reg_sqrt: trained on sqrt(y), predicts sign(x) * x^2
        raise CompileRefused("LightGBM regression on the square root of the target (reg_sqrt)")
    settings = dict(option.split(":", 1) for option in options if ":" in option)
    if name == "binary":
        scale = float(settings.get("sigmoid", "1"))
        return lambda raw: np.asarray(_sigmoid(np.ascontiguousarray(raw, dtype="float64").ravel(), scale))
    if name in ("multiclass", "softmax"):
        return _softmax
    if name in IDENTITY_OBJECTIVES:
        return lambda raw: raw.ravel()
    raise CompileRefused(f"LightGBM objective {name!r}")


def _numbers(block: dict[str, str], key: str, dtype: str) -> np.ndarray:
    return np.array(block[key].split(), dtype=dtype) if block.get(key) else np.zeros(0, dtype=dtype)


def _blocks(model: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The header's ``key=value`` lines and one such dict per ``Tree=`` section."""
    body = model.split("end of trees", 1)[0]
    header_text, *tree_texts = body.split("\nTree=")
    parse = lambda text: dict(line.split("=", 1) for line in text.splitlines() if "=" in line)  # noqa: E731
    return parse(header_text), [parse(f"Tree={text}") for text in tree_texts]


def _category_rows(block: dict[str, str], nodes: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """For each categorical node, which category slots go left (its bitset), one bool[CATEGORY_SLOTS + 1] row."""
    bounds = _numbers(block, "cat_boundaries", "int64")
    words = _numbers(block, "cat_threshold", "uint32")
    rows = np.zeros((len(nodes), CATEGORY_SLOTS + 1), dtype=bool)  # the last slot (invalid) goes right
    slots = np.arange(CATEGORY_SLOTS)
    for row, index in enumerate(threshold[nodes].astype("int64")):
        bits = words[bounds[index] : bounds[index + 1]]
        if len(bits) * 32 > CATEGORY_SLOTS and bits[CATEGORY_SLOTS // 32 :].any():
            raise CompileRefused("a LightGBM categorical split on a category past 255")
        inside = slots // 32 < len(bits)
        rows[row, :CATEGORY_SLOTS][inside] = (bits[slots[inside] // 32] >> (slots[inside] % 32)) & 1 == 1
    return rows


def _tree(block: dict[str, str], column: int, outputs: int) -> OneTree:
    if block.get("is_linear", "0") != "0":
        raise CompileRefused("LightGBM linear trees")
    leaf_values = _numbers(block, "leaf_value", "float64")
    splits = int(block["num_leaves"]) - 1
    values = np.zeros((splits + len(leaf_values), outputs))
    values[splits:, column] = leaf_values
    if splits == 0:  # one leaf: a constant
        empty = np.zeros(1, dtype="int64")
        return OneTree(empty, np.zeros(1), empty - 1, empty - 1, np.ones(1, dtype=bool), values)
    decision = _numbers(block, "decision_type", "int64")
    missing = (decision >> 2) & 3
    if (missing == MISSING_ZERO).any():
        raise CompileRefused("LightGBM zero-as-missing splits")
    threshold = _numbers(block, "threshold", "float64")
    categorical = (decision & CATEGORICAL_BIT) != 0
    # a leaf ``~k`` is node ``splits + k``; a leaf has no children (-1)
    left, right = (_numbers(block, key, "int64") for key in ("left_child", "right_child"))
    left, right = (np.where(child < 0, splits + ~child, child) for child in (left, right))
    default_left = (decision & DEFAULT_LEFT_BIT) != 0
    # missing type None reads a missing value as 0.0; NaN sends it the default way; categories send it right
    nan_left = np.where(missing == MISSING_NAN, default_left, ~(threshold < 0.0))
    nan_left &= ~categorical
    leaf = np.full(len(leaf_values), -1, dtype="int64")
    category_nodes = np.flatnonzero(categorical)
    return OneTree(
        feature=np.concatenate((_numbers(block, "split_feature", "int64"), np.zeros(len(leaf_values), "int64"))),
        threshold=np.concatenate((np.where(categorical, 0.0, threshold), np.zeros(len(leaf_values)))),
        left=np.concatenate((left, leaf)),
        right=np.concatenate((right, leaf)),
        nan_left=np.concatenate((nan_left, np.ones(len(leaf_values), dtype=bool))),
        values=values,
        category_nodes=category_nodes,
        category_left=_category_rows(block, category_nodes, threshold),
    )


def lightgbm_table(booster: Any) -> tuple[TreeTable, Transform]:
    """The booster's trees and the transform from raw scores to what ``Booster.predict`` returns."""
    model = booster.model_to_string()
    header, blocks = _blocks(model)
    transform = _objective(header.get("objective", ""))
    if "\naverage_output\n" in model.split("\nTree=", 1)[0]:
        raise CompileRefused("LightGBM random-forest mode (averaged trees)")
    per_iteration = int(header.get("num_tree_per_iteration", "1"))
    outputs = max(1, int(header.get("num_class", "1")))
    if per_iteration != outputs:
        raise CompileRefused("LightGBM with trees per iteration unlike its classes")
    trees = [_tree(block, index % per_iteration, outputs) for index, block in enumerate(blocks)]
    return merge_trees(trees, np.zeros(outputs)), transform


def warm_transforms() -> None:
    """Compile the transforms now (the image build runs this with ``walk.warm``)."""
    _sigmoid(np.zeros(1), 1.0)
    _softmax(np.zeros((1, 2)))
