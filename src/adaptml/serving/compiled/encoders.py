"""Encoders as lookup tables and arrays: columns in, the float64 matrix the estimator was fitted on out.

Two encoders are known, the ones training builds (``training/encoding.py``): ``NativeEncoder`` (numbers, columns
over the category limit as frequency ranks, and categories as their codes) and the ``ColumnTransformer`` of the
forest and linear families (imputed, optionally scaled numbers with missing indicators; one-hot or target-encoded
categories). Category tables are made by running
the fitted encoder itself on every known category, a missing value and an unseen one, so they hold its exact output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

from adaptml.serving.compiled.columns import Columns, CompileRefused
from adaptml.training.features import NativeEncoder

__all__ = ["Encoded", "category_codes", "compile_encoder"]

UNSEEN = "\x00adaptml-unseen\x00"  # a label no fitted encoder has met
SMALL_BATCH = 32  # below this many rows a dict lookup beats building a pandas Index


@dataclass(frozen=True)
class Encoded:
    """A compiled encoder: ``run(columns) -> matrix``; for native encoders, which columns hold category codes."""

    run: Callable[[Columns], np.ndarray]
    native: bool = False
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    categories: dict[str, list[str]] = field(default_factory=dict)


def category_codes(values: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Each value's position among ``labels`` (-1 when missing or unknown), like ``Index.get_indexer``."""
    return Codebook(tuple(labels)).codes(values, unknown=-1, missing=-1)


class Codebook:
    """Category labels with their lookup made once: a dict for a few rows, a pandas Index for many."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = tuple(labels)
        self.lookup = {label: code for code, label in enumerate(self.labels)}
        self.index = pd.Index(list(self.labels), dtype=object)

    def codes(self, values: np.ndarray, *, unknown: int, missing: int) -> np.ndarray:
        """Each value's position; ``unknown`` for an unknown label, ``missing`` for a missing value (any non-text:
        the typed columns hold text or NaN)."""
        if len(values) <= SMALL_BATCH:
            get = self.lookup.get
            return np.fromiter(
                (get(v, unknown) if type(v) is str else missing for v in values),  # noqa: E721 - exact text
                "int64",
                len(values),
            )
        codes = self.index.get_indexer(pd.Index(values, dtype=object))
        absent = np.flatnonzero(codes < 0)  # unknown or missing (no label is missing): tell them apart there only
        if len(absent):
            codes[absent] = np.where(pd.isna(np.asarray(values)[absent]), missing, unknown)
        return codes


def _native(encoder: NativeEncoder) -> Encoded:
    """Numbers as they are, rank columns as their level's rank and categories as their codes (NaN: missing or
    unknown), in the encoder's output order: numbers, rank columns, categories. Ranks are numbers to the model."""
    numbers, ranked, categorical = tuple(encoder.numeric), encoder.ranked, encoder.native
    categories = {name: list(encoder.categories_[name]) for name in categorical}
    coded = [*((name, encoder.ranks_[name]) for name in ranked), *((name, categories[name]) for name in categorical)]
    books = [(index, name, Codebook(labels)) for index, (name, labels) in enumerate(coded, len(numbers))]

    def run(columns: Columns) -> np.ndarray:
        rows = len(next(iter(columns.values()))) if columns else 0
        out = np.empty((rows, len(numbers) + len(books)), dtype="float64")
        for index, name in enumerate(numbers):
            out[:, index] = columns[name]
        for index, name, book in books:
            codes = book.codes(columns[name], unknown=-1, missing=-1).astype("float64")
            codes[codes < 0] = np.nan
            out[:, index] = codes
        return out

    numeric = (*numbers, *encoder.rank_names)
    return Encoded(run, native=True, numeric=numeric, categorical=categorical, categories=categories)


def _numeric_part(pipeline: Pipeline) -> Callable[[np.ndarray], np.ndarray]:
    """SimpleImputer (NaN missing, optional indicators), then an optional StandardScaler."""
    steps = [step for _, step in pipeline.steps]
    imputer, rest = steps[0], steps[1:]
    if type(imputer) is not SimpleImputer or not _nan(imputer.missing_values):
        raise CompileRefused("numeric encoding does not start with a SimpleImputer of NaN")
    if len(rest) > 1 or (rest and type(rest[0]) is not StandardScaler):
        raise CompileRefused("numeric encoding has a step other than SimpleImputer and StandardScaler")
    fill = np.asarray(imputer.statistics_, dtype="float64")
    if np.isnan(fill).any():
        raise CompileRefused("numeric imputer has a column that was empty at fit")
    indicated = np.asarray(imputer.indicator_.features_) if imputer.add_indicator else None
    scaler = rest[0] if rest else None

    def run(matrix: np.ndarray) -> np.ndarray:
        missing = np.isnan(matrix)
        out = np.where(missing, fill, matrix)
        if indicated is not None:
            out = np.hstack((out, missing[:, indicated]))
        if scaler is not None:
            if scaler.with_mean:
                out -= scaler.mean_
            if scaler.with_std:
                out /= scaler.scale_
        return out

    return run


def _nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _widths(encoder: Any) -> list[int]:
    if type(encoder) is OneHotEncoder and encoder.drop is None:
        return list(encoder._n_features_outs)
    if type(encoder) is TargetEncoder:
        per = 1 if encoder.target_type_ in ("binary", "continuous") else len(encoder.classes_)
        return [per] * len(encoder.categories_)
    raise CompileRefused(f"unknown categorical encoder {type(encoder).__name__}")


def _categorical_part(pipeline: Pipeline, names: list[str]) -> Callable[[Columns], np.ndarray]:
    """Text -> constant imputer -> one-hot or target encoder (-> scaler): one table per column, probed."""
    steps = [step for _, step in pipeline.steps]
    kinds = [f"{type(step).__module__}.{type(step).__qualname__}" for step in steps]
    known_tail = len(steps) in (3, 4) and (len(steps) == 3 or type(steps[3]) is StandardScaler)
    if kinds[0] != "adaptml.training.encoding._AsText" or type(steps[1]) is not SimpleImputer or not known_tail:
        raise CompileRefused(f"unknown categorical encoding {' -> '.join(k.rsplit('.', 1)[-1] for k in kinds)}")
    widths = _widths(steps[2])
    tables, books = [], []
    for index in range(len(names)):
        known = [str(v) for v in steps[2].categories_[index]]
        probes = np.empty((len(known) + 2, len(names)), dtype=object)
        probes[:] = [str(steps[2].categories_[j][0]) for j in range(len(names))]
        probes[:, index] = [*known, np.nan, UNSEEN]
        out = np.asarray(pipeline.transform(pd.DataFrame(probes, columns=names)), dtype="float64")
        start = sum(widths[:index])
        tables.append(out[:, start : start + widths[index]])
        books.append(Codebook(known))

    def run(columns: Columns) -> np.ndarray:
        blocks = []
        for name, book, table in zip(names, books, tables, strict=True):
            # a table's last two rows: a missing value, then an unseen one
            blocks.append(table[book.codes(columns[name], unknown=len(book.labels) + 1, missing=len(book.labels))])
        return np.hstack(blocks)

    return run


def _stacked(names: list[str], numeric: Callable[[np.ndarray], np.ndarray]) -> Callable[[Columns], np.ndarray]:
    return lambda columns: numeric(np.column_stack([columns[name] for name in names]).astype("float64"))


def _column_transformer(transformer: ColumnTransformer) -> Encoded:
    parts: list[tuple[str, Callable[[Columns], np.ndarray]]] = []
    for name, part, selected in transformer.transformers_:
        if part == "drop" or (isinstance(selected, list | np.ndarray) and len(selected) == 0):
            continue
        if not isinstance(part, Pipeline) or not all(isinstance(c, str) for c in selected):
            raise CompileRefused(f"unknown column transformer part {name!r} ({type(part).__name__})")
        names = [str(c) for c in selected]
        if type(part.steps[0][1]) is SimpleImputer:
            parts.append((name, _stacked(names, _numeric_part(part))))
        else:
            parts.append((name, _categorical_part(part, names)))
    if not parts:
        raise CompileRefused("the column transformer selects no columns")

    def run(columns: Columns) -> np.ndarray:
        return np.hstack([np.asarray(f(columns), dtype="float64") for _, f in parts])

    return Encoded(run)


def compile_encoder(step: Any) -> Encoded:
    """The array version of a fitted encoder step (exact types only)."""
    if type(step) is NativeEncoder:
        return _native(step)
    if type(step) is ColumnTransformer:
        if getattr(step, "sparse_output_", False):
            raise CompileRefused("the column transformer outputs a sparse matrix")
        return _column_transformer(step)
    raise CompileRefused(f"unknown encoder {type(step).__name__}")
