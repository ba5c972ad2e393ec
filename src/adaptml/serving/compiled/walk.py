"""A tree table walked by one compiled loop (numba): rows in blocks, each block through every tree level by level.

The libraries' own predictors walk one row down one tree at a time, so each step waits for the node it just chose.
Here a block of ``BLOCK`` rows goes down a tree together, one level per pass over the block: the block's steps do
not depend on each other and the processor overlaps them, while the tree's nodes and the block's rows stay in its
first-level cache. A tree's two children are numbered next to each other, so a step is one comparison and an
addition (``next = left + goes_right``), and a leaf's ``left`` is itself with a NaN threshold (every comparison
false), so passes beyond a leaf keep the row there. Per row, the leaves are added tree by tree from the model's
base, in the accumulator's precision, as the libraries add them. A block stops at its tree's depth, so a forest of
deep, lopsided trees is cheaper in its library's own row-by-row walk; a shallow booster is about twice as fast here.

The loop releases the GIL: callers score batches in threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np
from numba import njit, uint64

__all__ = ["BLOCK", "CATEGORICAL", "NAN_RIGHT", "PackedTrees", "walk_sum", "warm"]

BLOCK = 64  # rows that go down a tree together
CATEGORICAL, NAN_RIGHT = np.uint8(1), np.uint8(2)  # node flags: a category split; a missing value goes right


@dataclass(frozen=True)
class PackedTrees:
    """A table renumbered for the loop: each tree's nodes by level, a node's children adjacent.

    ``threshold`` holds a categorical node's row of ``category_right`` (a float: the loop reads one field either
    way); ``flags`` is 0 for a plain number split whose missing values go left, as a NaN comparison does anyway."""

    threshold: np.ndarray  # float64 (nodes,)
    left: np.ndarray  # uint32 (nodes,): a split's left child (right = left + 1); a leaf's own number
    feature: np.ndarray  # uint32 (nodes,)
    flags: np.ndarray  # uint8 (nodes,)
    category_right: np.ndarray  # uint8 (categorical nodes + 1, CATEGORY_SLOTS + 1)
    values: np.ndarray  # (nodes, outputs) in the accumulator's precision
    roots: np.ndarray  # int64 (trees,)
    depths: np.ndarray  # int64 (trees,): levels to the tree's deepest leaf
    width: int  # columns the splits read: the data must have at least as many


@njit(nogil=True, cache=True)
def _walk(data, threshold, left, feature, flags, category_right, values, roots, depths, strict, out):
    rows, outputs = data.shape[0], values.shape[1]
    width = uint64(category_right.shape[1])
    categories = category_right.ravel()
    at = np.empty(BLOCK, dtype=np.uint64)
    for start in range(0, rows, BLOCK):
        count = min(rows, start + BLOCK) - start
        for tree in range(roots.shape[0]):
            for i in range(count):
                at[i] = uint64(roots[tree])
            for _ in range(depths[tree]):
                for i in range(count):
                    node = at[i]
                    x = data[uint64(start + i), uint64(feature[node])]
                    kind, split = flags[node], threshold[node]
                    if kind != 0 and x != x:
                        right = (kind >> 1) & 1
                    elif kind & 1:
                        slot = uint64(256)
                        if x >= 0 and x < 256:
                            slot = uint64(x)
                        right = categories[uint64(split) * width + slot]
                    elif strict:
                        right = x >= split
                    else:
                        right = x > split
                    at[i] = uint64(left[node]) + uint64(right)
            for i in range(count):
                for k in range(outputs):
                    out[start + i, k] += values[at[i], k]


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="adaptml-trees")


def walk_sum(packed: PackedTrees, data: np.ndarray, base: np.ndarray, *, strict: bool, threads: int = 1) -> np.ndarray:
    """Base plus every tree's leaf for each row of ``data`` (float64, C order): (rows, outputs), in the values'
    precision. ``threads`` > 1 splits the rows between that many threads (the sums are the same)."""
    if data.ndim != 2 or data.shape[1] < packed.width:
        raise ValueError(f"the trees read {packed.width} columns; the matrix has shape {data.shape}")
    out = np.empty((len(data), len(base)), dtype=packed.values.dtype)
    out[:] = base
    arrays = (packed.threshold, packed.left, packed.feature, packed.flags, packed.category_right, packed.values)
    if threads <= 1 or len(data) < 2 * BLOCK * threads:
        _walk(data, *arrays, packed.roots, packed.depths, strict, out)
        return out
    bounds = np.linspace(0, len(data), threads + 1).astype(int)
    parts = [
        _pool(threads).submit(_walk, data[a:b], *arrays, packed.roots, packed.depths, strict, out[a:b])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    for part in parts:
        part.result()
    return out


def warm() -> None:
    """Compile the loop for both accumulator precisions (float64; float32, XGBoost's) now, not on the first model
    load: the image build runs this, so its containers load the compiled loop from ``NUMBA_CACHE_DIR``."""
    data = np.zeros((1, 1))
    for precision in ("float64", "float32"):
        leaf = PackedTrees(
            threshold=np.full(1, np.nan),
            left=np.zeros(1, dtype="uint32"),
            feature=np.zeros(1, dtype="uint32"),
            flags=np.zeros(1, dtype="uint8"),
            category_right=np.zeros((1, 257), dtype="uint8"),
            values=np.ones((1, 1), dtype=precision),
            roots=np.zeros(1, dtype="int64"),
            depths=np.zeros(1, dtype="int64"),
            width=1,
        )
        walk_sum(leaf, data, np.zeros(1, dtype=precision), strict=False)
