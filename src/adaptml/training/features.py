"""Feature engineering as scikit-learn transformers, so everything done to a record lives inside the pickled model.

Each model's pipeline is ``SchemaCoercer -> DateParts -> ColumnSelector -> encoder -> estimator``; the encoder is
chosen by the model family: native categoricals for gradient boosting, one-hot / target encoding by cardinality
for forests, and the same plus imputation indicators and scaling for linear models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

from adaptml.schema import Schema

__all__ = [
    "DATE_PARTS",
    "LOW_CARDINALITY",
    "ColumnSelector",
    "DateParts",
    "FeaturePlan",
    "NativeEncoder",
    "engineer",
    "make_encoder",
    "plan_features",
]

DATE_PARTS = ("year", "month", "week", "day", "day_of_week", "day_of_year", "days")
EPOCH = pd.Timestamp("2000-01-01")
LOW_CARDINALITY = 30
MISSING_LABEL = "__missing__"


@dataclass(frozen=True)
class FeaturePlan:
    """The engineered base features (date columns expanded into parts) and how each categorical is encoded."""

    datetime: tuple[str, ...]
    numeric: tuple[str, ...]
    low_cardinality: tuple[str, ...]
    high_cardinality: tuple[str, ...]
    cardinality: dict[str, int]

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.low_cardinality, *self.high_cardinality]

    def kept(self, names: list[str] | tuple[str, ...]) -> FeaturePlan:
        """The same plan restricted to ``names`` (the features selection kept)."""
        keep = set(names)
        return FeaturePlan(
            datetime=self.datetime,
            numeric=tuple(n for n in self.numeric if n in keep),
            low_cardinality=tuple(n for n in self.low_cardinality if n in keep),
            high_cardinality=tuple(n for n in self.high_cardinality if n in keep),
            cardinality={k: v for k, v in self.cardinality.items() if k in keep},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_features(schema: Schema, train: pd.DataFrame) -> FeaturePlan:
    """Sort the schema's columns into numeric, date-part and low/high-cardinality categorical features."""
    dates = tuple(c.name for c in schema.columns if c.kind == "datetime")
    numeric = [c.name for c in schema.columns if c.kind == "numeric"]
    numeric += [f"{name}_{part}" for name in dates for part in DATE_PARTS]
    categorical = [c.name for c in schema.columns if c.kind == "categorical"]
    cardinality = {name: int(train[name].nunique()) for name in categorical}
    return FeaturePlan(
        datetime=dates,
        numeric=tuple(numeric),
        low_cardinality=tuple(n for n in categorical if cardinality[n] <= LOW_CARDINALITY),
        high_cardinality=tuple(n for n in categorical if cardinality[n] > LOW_CARDINALITY),
        cardinality=cardinality,
    )


class DateParts(TransformerMixin, BaseEstimator):
    """Replace each datetime column by its parts (missing stays missing).

    The parts are year, month, ISO week, day of month, day of week, day of year, and days since a fixed epoch
    (a trend feature trees can split on); seasonality lives in week and day of year, weekly cycles in day of week.
    """

    def __init__(self, columns: tuple[str, ...] = ()) -> None:
        self.columns = columns

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless

    def fit(self, X: pd.DataFrame, y: object = None) -> DateParts:  # noqa: N803 - sklearn's naming
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        if not self.columns:
            return X
        parts: dict[str, pd.Series] = {}
        for name in self.columns:
            stamps = pd.to_datetime(X[name], errors="coerce")
            for part in DATE_PARTS:
                parts[f"{name}_{part}"] = _date_part(stamps, part)
        return pd.concat([X.drop(columns=list(self.columns)), pd.DataFrame(parts, index=X.index)], axis=1)


def _date_part(stamps: pd.Series, part: str) -> pd.Series:
    """One numeric part of a datetime series, as float64 with NaN where the date is missing."""
    if part == "week":
        return stamps.dt.isocalendar().week.astype("float64")
    if part == "days":
        naive = stamps.dt.tz_localize(None) if stamps.dt.tz is not None else stamps
        return ((naive - EPOCH) / pd.Timedelta(days=1)).astype("float64")
    return getattr(stamps.dt, part).astype("float64")


def engineer(frame: pd.DataFrame, plan: FeaturePlan) -> pd.DataFrame:
    """The base features of a typed frame, as the model pipelines see them after ``DateParts``."""
    return DateParts(plan.datetime).transform(frame)[plan.features]


class ColumnSelector(TransformerMixin, BaseEstimator):
    """Keep the named columns, in order: the features that selection kept."""

    def __init__(self, columns: tuple[str, ...] = ()) -> None:
        self.columns = columns

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless

    def fit(self, X: pd.DataFrame, y: object = None) -> ColumnSelector:  # noqa: N803
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        return X[list(self.columns)]


class NativeEncoder(TransformerMixin, BaseEstimator):
    """Numbers as float64 and categoricals as pandas categories fixed at fit (unseen or rare -> missing).

    Gradient boosting libraries split on these categories natively; fixing them at fit keeps codes stable.
    """

    def __init__(
        self, numeric: tuple[str, ...] = (), categorical: tuple[str, ...] = (), max_categories: int = 250
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame, y: object = None) -> NativeEncoder:  # noqa: N803
        self.categories_ = {
            name: [str(v) for v in X[name].dropna().astype(str).value_counts().index[: self.max_categories]]
            for name in self.categorical
        }
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        columns: dict[str, pd.Series] = {name: X[name].astype("float64") for name in self.numeric}
        for name in self.categorical:
            known = pd.Index(self.categories_[name])
            codes = known.get_indexer(pd.Index(_as_labels(X[name])))  # -1 (missing): unseen or rare at fit
            columns[name] = pd.Series(pd.Categorical.from_codes(codes, categories=known), X.index)
        return pd.DataFrame(columns, index=X.index)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([*self.numeric, *self.categorical], dtype=object)


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


def make_encoder(family: str, plan: FeaturePlan, *, task: str, seed: int) -> BaseEstimator:
    """The encoding step for a model family: ``native``, ``tree`` or ``linear``."""
    if family == "native":
        return NativeEncoder(plan.numeric, plan.low_cardinality + plan.high_cardinality)
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
