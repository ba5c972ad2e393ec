"""The encoding step of a model pipeline, chosen by the model's family (``make_encoder``).

- ``native`` (gradient boosting): ``NativeEncoder`` — numbers as float64, categoricals as pandas categories the
  boosters split on natively, at most ``max_categories`` levels each (what HistGradientBoosting's bins allow). A
  column with more levels (``overflow``): ``"both"`` keeps its commonest levels as a category and adds every
  level's rank by frequency at fit as a number (``<name>__rank``, 0 the commonest), so the rarer levels are told
  apart by how common they are instead of all reading as missing; ``"rank"`` keeps the rank only (measured worse:
  a column just over the limit loses its categorical splits); ``"missing"`` (what models pickled before this option
  do, and the default: the ranks lost under cross-validation on the corpus, see ``bench/encoding_cv.py``) reads the
  rarer levels as missing; ``"all"`` keeps every level as a category (for a model without a bin limit, such as
  CatBoost's ordered target statistics; not wired to it yet).
- ``tree`` (forests): one-hot below ``LOW_CARDINALITY`` levels, out-of-fold target encoding above.
- ``linear``: the same plus imputation indicators and scaling.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder


class ColumnKinds(Protocol):
    """What an encoder needs of a feature plan (``features.FeaturePlan``): its columns by kind."""

    @property
    def numeric(self) -> tuple[str, ...]: ...
    @property
    def low_cardinality(self) -> tuple[str, ...]: ...
    @property
    def high_cardinality(self) -> tuple[str, ...]: ...


__all__ = ["MAX_CATEGORIES", "MISSING_LABEL", "RANK_SUFFIX", "NativeEncoder", "make_encoder"]

MAX_CATEGORIES = 250  # below HistGradientBoosting's 255 bins (one is kept for missing)
MISSING_LABEL = "__missing__"
Overflow = Literal["both", "rank", "missing", "all"]
RANK_SUFFIX = "__rank"


class NativeEncoder(TransformerMixin, BaseEstimator):
    """Numbers as float64 and categoricals as pandas categories fixed at fit (unseen -> missing).

    Gradient boosting libraries split on these categories natively; fixing them at fit keeps codes stable. A
    column with more than ``max_categories`` levels at fit is ranked as ``overflow`` says (``ranks_``: every level,
    commonest first): the output is ``numeric``, then the rank columns (float64), then the categories
    (``get_feature_names_out``). ``overflow="missing"`` is the default: the behaviour of encoders pickled before
    ranking, whose state lacks ``overflow`` and ``ranks_``.
    """

    overflow: Overflow = "missing"  # what an encoder pickled before the option has (its state lacks the attribute)

    def __init__(
        self,
        numeric: tuple[str, ...] = (),
        categorical: tuple[str, ...] = (),
        max_categories: int = MAX_CATEGORIES,
        overflow: Overflow = "missing",
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.max_categories = max_categories
        self.overflow = overflow

    def fit(self, X: pd.DataFrame, y: object = None) -> NativeEncoder:  # noqa: N803 - sklearn's naming
        levels = {name: _by_frequency(X[name]) for name in self.categorical}
        rank = self.overflow in ("rank", "both")
        self.ranks_ = {n: v for n, v in levels.items() if rank and len(v) > self.max_categories}
        limit = None if self.overflow == "all" else self.max_categories
        only_rank = self.overflow == "rank"
        self.categories_ = {n: v[:limit] for n, v in levels.items() if not (only_rank and n in self.ranks_)}
        return self

    @property
    def ranked(self) -> tuple[str, ...]:
        """The categorical columns encoded as frequency ranks (none for an encoder pickled before ranking)."""
        ranks = getattr(self, "ranks_", {})
        return tuple(name for name in self.categorical if name in ranks)

    @property
    def native(self) -> tuple[str, ...]:
        """The categorical columns encoded as pandas categories."""
        return tuple(name for name in self.categorical if name in self.categories_)

    @property
    def rank_names(self) -> tuple[str, ...]:
        """The output names of the rank columns: the column's own name when it is ranked only."""
        return tuple(f"{name}{RANK_SUFFIX}" if name in self.categories_ else name for name in self.ranked)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        columns: dict[str, pd.Series] = {name: X[name].astype("float64") for name in self.numeric}
        for name, output in zip(self.ranked, self.rank_names, strict=True):
            codes = pd.Index(self.ranks_[name]).get_indexer(pd.Index(_as_labels(X[name])))
            columns[output] = pd.Series(np.where(codes < 0, np.nan, codes.astype("float64")), X.index)
        for name in self.native:
            known = pd.Index(self.categories_[name])
            codes = known.get_indexer(pd.Index(_as_labels(X[name])))  # -1 (missing): unseen or rare at fit
            columns[name] = pd.Series(pd.Categorical.from_codes(codes, categories=known), X.index)
        return pd.DataFrame(columns, index=X.index)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([*self.numeric, *self.rank_names, *self.native], dtype=object)


def _by_frequency(values: pd.Series) -> list[str]:
    """A column's levels as text, commonest first (ties in the order pandas counts them, which is stable)."""
    return [str(v) for v in values.dropna().astype(str).value_counts().index]


def _as_labels(values: pd.Series) -> pd.Series:
    """Category labels as text, missing kept missing; string columns (what coercion produces) pass as they are."""
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values.dtype):
        return values
    return values.astype("object").where(values.notna(), None).map(lambda v: v if v is None else str(v))


def _categorical_steps(encoder: BaseEstimator, *, scale: bool) -> Pipeline:
    imputer = SimpleImputer(strategy="constant", fill_value=MISSING_LABEL)
    steps: list[BaseEstimator] = [_AsText(), imputer, encoder]
    if scale:
        steps.append(StandardScaler())
    return make_pipeline(*steps)


class _AsText(TransformerMixin, BaseEstimator):
    """Categoricals as an object array of strings (missing as NaN), the input the imputer and encoders expect."""

    def fit(self, X: pd.DataFrame, y: object = None) -> _AsText:  # noqa: N803
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        values = pd.DataFrame(X).to_numpy(dtype=object)
        return np.where(pd.isna(values), np.nan, values.astype(str).astype(object))


def make_encoder(
    family: str, plan: ColumnKinds, *, task: str, seed: int, overflow: Overflow = "missing"
) -> BaseEstimator:
    """The encoding step for a model family: ``native``, ``tree`` or ``linear``."""
    if family == "native":
        return NativeEncoder(plan.numeric, plan.low_cardinality + plan.high_cardinality, overflow=overflow)
    linear = family == "linear"
    numeric_steps: list[BaseEstimator] = [
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    ]
    if linear:
        numeric_steps.append(StandardScaler())
    target_type = "continuous" if task == "regression" else "auto"
    parts: list[tuple[str, BaseEstimator, list[str]]] = []
    if plan.numeric:
        parts.append(("numeric", make_pipeline(*numeric_steps), list(plan.numeric)))
    if plan.low_cardinality:
        one_hot = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False)
        parts.append(("one_hot", _categorical_steps(one_hot, scale=False), list(plan.low_cardinality)))
    if plan.high_cardinality:
        folds = KFold if task == "regression" else StratifiedKFold  # what TargetEncoder picks itself for cv=5
        encoder = TargetEncoder(target_type=target_type, cv=folds(5, shuffle=True, random_state=seed))
        parts.append(("target", _categorical_steps(encoder, scale=linear), list(plan.high_cardinality)))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
