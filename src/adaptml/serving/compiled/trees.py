"""Tree ensembles as flat node arrays, summed by one compiled loop (``walk.py``) for a row or a million.

The libraries' own calls cost a Python loop per tree (sklearn's forests and HistGradientBoosting) or a fixed
per-call overhead (XGBoost, LightGBM) that dwarfs one row's work, and their row-by-row walks leave the processor
waiting on each node. Here every tree's nodes sit in one table, built with whole-array operations from each
library's fitted trees. Each library's split rule is reproduced exactly: numbers go left on ``<=`` (sklearn,
LightGBM) or ``<`` (XGBoost), a missing value goes the node's stored way, a category goes left when its bit in the
node's table is set. Leaf values are summed tree by tree in the library's own order and precision, starting from
the model's base score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from adaptml.serving.compiled.walk import CATEGORICAL, NAN_RIGHT, PackedTrees, walk_sum

__all__ = [
    "CATEGORY_SLOTS",
    "INVALID_SLOT",
    "OneTree",
    "TreeTable",
    "hgb_table",
    "merge_trees",
    "read_through",
    "sklearn_forest_table",
]

CATEGORY_SLOTS = 256  # categories 0..255 (HistGradientBoosting's and the native encoders' limit)
INVALID_SLOT = CATEGORY_SLOTS  # a negative, fractional-overflow or too-large category


@dataclass(frozen=True)
class OneTree:
    """One tree's nodes in local numbering (children -1 at leaves); for the nodes with a categorical split
    (``category_nodes``), which categories go left (``category_left``, one bool[CATEGORY_SLOTS + 1] row each)."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    nan_left: np.ndarray
    values: np.ndarray  # (nodes, outputs): what a leaf adds
    category_nodes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    category_left: np.ndarray = field(default_factory=lambda: np.zeros((0, CATEGORY_SLOTS + 1), dtype=bool))


@dataclass(frozen=True)
class TreeTable:
    """All trees of a model in one set of arrays; ``raw(matrix)`` sums the leaves each row reaches plus ``base``."""

    feature: np.ndarray
    threshold: np.ndarray
    children: np.ndarray  # (nodes * 2,): left then right, a leaf's both itself
    nan_right: np.ndarray
    category_row: np.ndarray  # 0 for numeric splits, else a row of ``category_right``
    category_right: np.ndarray  # (categorical nodes + 1, CATEGORY_SLOTS + 1) bool
    category_nodes: np.ndarray  # the nodes with a categorical split
    values: np.ndarray
    roots: np.ndarray
    base: np.ndarray  # (outputs,)
    strict_less: bool  # XGBoost: left when x < threshold; else left when x <= threshold
    as_float32: bool  # sklearn's and XGBoost's trees compare float32 features
    accumulate: str = "float64"  # XGBoost sums its leaves in float32

    @cached_property
    def _packed(self) -> PackedTrees:
        return _pack(self)

    def raw(self, matrix: np.ndarray, *, threads: int = 1) -> np.ndarray:
        """Base plus every tree's leaf value, summed in tree order: (rows, outputs), float64."""
        data = np.ascontiguousarray(matrix, dtype="float64")
        if self.as_float32:
            data = data.astype("float32").astype("float64")
        summed = walk_sum(
            self._packed, data, self.base.astype(self.accumulate), strict=self.strict_less, threads=threads
        )
        return summed.astype("float64", copy=False)


def _pack(table: TreeTable) -> PackedTrees:
    """Renumber ``table``: level by level over all trees at once, each split's children as a pair, then sorted by
    tree, level and position, so a tree's nodes are contiguous and each pair stays adjacent."""
    left_old, right_old = table.children[0::2], table.children[1::2]
    leaf = left_old == np.arange(len(left_old))
    found, trees, levels = [table.roots], [np.arange(len(table.roots))], [np.zeros(len(table.roots))]
    frontier, owner, level = table.roots, np.arange(len(table.roots)), 0
    depths = np.zeros(len(table.roots), dtype="int64")
    while frontier.size:
        inner = ~leaf[frontier]
        frontier, owner = frontier[inner], owner[inner]
        if not frontier.size:
            break
        level += 1
        depths[owner] = level
        frontier = np.column_stack((left_old[frontier], right_old[frontier])).ravel()
        owner = np.repeat(owner, 2)
        found.append(frontier)
        trees.append(owner)
        levels.append(np.full(len(frontier), level))
    old = np.concatenate(found)
    order = old[np.lexsort((np.arange(len(old)), np.concatenate(levels), np.concatenate(trees)))]
    new = np.empty(len(order), dtype="int64")
    new[order] = np.arange(len(order))
    is_leaf = leaf[order]
    category_row = table.category_row[order]
    threshold = np.where(category_row != 0, category_row.astype("float64"), table.threshold[order])
    flags = np.where(category_row != 0, CATEGORICAL, 0) | np.where(table.nan_right[order], NAN_RIGHT, 0)
    return PackedTrees(
        threshold=np.where(is_leaf, np.nan, threshold),
        left=np.where(is_leaf, np.arange(len(order)), new[left_old[order]]).astype("uint32"),
        feature=np.where(is_leaf, 0, table.feature[order]).astype("uint32"),
        flags=np.where(is_leaf, 0, flags).astype("uint8"),
        category_right=np.ascontiguousarray(table.category_right, dtype="uint8"),
        values=np.ascontiguousarray(table.values[order], dtype=table.accumulate),
        roots=new[table.roots],
        depths=depths,
        width=int(table.feature[~leaf].max()) + 1 if (~leaf).any() else 0,
    )


def merge_trees(
    trees: Sequence[OneTree],
    base: np.ndarray,
    *,
    strict_less: bool = False,
    as_float32: bool = False,
    accumulate: str = "float64",
) -> TreeTable:
    """One table of ``trees`` (global node numbers; leaves loop on themselves), built with whole-array operations:
    each tree's local node numbers are shifted by its offset, not walked node by node."""
    sizes = np.array([len(tree.feature) for tree in trees], dtype="int64")
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype("int64")
    shift = np.repeat(offsets, sizes)
    left, right = np.concatenate([t.left for t in trees]), np.concatenate([t.right for t in trees])
    leaf = left < 0
    own = np.arange(len(left), dtype="int64")
    left_global = np.where(leaf, -1, left + shift)
    right_global = np.where(leaf, -1, right + shift)
    category_nodes = np.concatenate([t.category_nodes + offset for t, offset in zip(trees, offsets, strict=True)])
    category_row = np.zeros(len(left), dtype="int64")
    category_row[category_nodes.astype("int64")] = np.arange(1, len(category_nodes) + 1)
    tables = [np.zeros((1, CATEGORY_SLOTS + 1), dtype=bool), *(~t.category_left.astype(bool) for t in trees)]
    return TreeTable(
        feature=np.where(leaf, 0, np.concatenate([t.feature for t in trees])).astype("int64"),
        threshold=np.concatenate([t.threshold for t in trees]).astype("float64"),
        children=np.column_stack((np.where(leaf, own, left_global), np.where(leaf, own, right_global))).ravel(),
        nan_right=~np.concatenate([t.nan_left for t in trees]).astype(bool),
        category_row=category_row,
        category_right=np.vstack(tables),
        category_nodes=np.flatnonzero(category_row),
        values=np.concatenate([t.values for t in trees]).astype("float64"),
        roots=offsets,
        base=np.asarray(base, dtype="float64"),
        strict_less=strict_less,
        as_float32=as_float32,
        accumulate=accumulate,
    )


def read_through(table: TreeTable, columns: np.ndarray, codes: dict[int, np.ndarray]) -> TreeTable:
    """The table over another matrix: the table's feature ``f`` is the other matrix's column ``columns[f]``, and
    that column's category ``v`` is the table's category ``codes[column][v]`` (NaN: missing). HistGradientBoosting
    reorders and recodes the native encoder's columns; this folds that into the table, so small requests skip it.
    The categorical nodes are recoded a column at a time (one array operation per column, not per node)."""
    feature = np.asarray(columns, dtype="int64")[table.feature]
    category_right = table.category_right.copy()
    nodes = table.category_nodes
    rows, node_columns = table.category_row[nodes], feature[nodes]
    for column in np.unique(node_columns):
        mapping = codes.get(int(column))
        if mapping is None:
            raise ValueError("a categorical split on a column without category codes")
        mapped = np.full(CATEGORY_SLOTS + 1, np.nan)
        mapped[: min(len(mapping), CATEGORY_SLOTS)] = mapping[:CATEGORY_SLOTS]
        valid = (mapped >= 0) & (mapped < CATEGORY_SLOTS)
        slots = np.where(valid, mapped, INVALID_SLOT).astype("int64")
        chosen = node_columns == column
        own_rows = rows[chosen]
        category_right[own_rows] = np.where(
            np.isnan(mapped), table.nan_right[nodes[chosen]][:, np.newaxis], table.category_right[own_rows][:, slots]
        )
    return replace(table, feature=feature, category_right=category_right)


def sklearn_forest_table(model: Any) -> TreeTable:
    """A fitted RandomForest/ExtraTrees: each tree's leaf values (class fractions normalised, as predict_proba)."""
    trees = []
    for estimator in model.estimators_:
        tree = estimator.tree_
        if tree.n_outputs != 1:
            raise ValueError("a multi-output forest")
        values = np.asarray(tree.value[:, 0, :], dtype="float64")
        if hasattr(model, "classes_"):
            normalizer = values.sum(axis=1)[:, np.newaxis]
            normalizer[normalizer == 0.0] = 1.0
            values = values / normalizer
        missing_left = getattr(tree, "missing_go_to_left", None)
        nan_left = np.ones(tree.node_count, bool) if missing_left is None else np.asarray(missing_left, bool)
        trees.append(OneTree(tree.feature, tree.threshold, tree.children_left, tree.children_right, nan_left, values))
    width = trees[0].values.shape[1]
    return merge_trees(trees, np.zeros(width), as_float32=True)


def _hgb_tree(predictor: Any, known: np.ndarray, f_idx_map: np.ndarray, column: int, outputs: int) -> OneTree:
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    values = np.zeros((len(nodes), outputs))
    values[leaf, column] = nodes["value"][leaf]
    nan_left = nodes["missing_go_to_left"].astype(bool)
    slots = np.arange(CATEGORY_SLOTS)
    split = np.flatnonzero(nodes["is_categorical"].astype(bool) & ~leaf)
    raw = predictor.raw_left_cat_bitsets[nodes["bitset_idx"][split]]  # (split nodes, 8) uint32 words
    in_raw = ((raw[:, slots // 32] >> (slots % 32)) & 1).astype(bool)
    bits = known[f_idx_map[nodes["feature_idx"][split]]]
    is_known = ((bits[:, slots // 32] >> (slots % 32)) & 1).astype(bool)
    goes_left = in_raw | (~is_known & nan_left[split][:, np.newaxis])
    categories = np.column_stack((goes_left, nan_left[split]))  # the last slot: a negative code counts as missing
    left = np.where(leaf, -1, nodes["left"].astype("int64"))
    right = np.where(leaf, -1, nodes["right"].astype("int64"))
    return OneTree(nodes["feature_idx"], nodes["num_threshold"], left, right, nan_left, values, split, categories)


def hgb_table(model: Any) -> TreeTable:
    """A fitted HistGradientBoosting model's predictors over the matrix its own preprocessor makes (categories
    first, as ordinal codes; ``read_through`` moves it onto another), as raw scores (the caller applies the link)."""
    known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    outputs = model.n_trees_per_iteration_
    trees = [
        _hgb_tree(predictor, known, f_idx_map, column, outputs)
        for iteration in model._predictors
        for column, predictor in enumerate(iteration)
    ]
    return merge_trees(trees, np.asarray(model._baseline_prediction, dtype="float64").ravel())
