"""Feature engineering as scikit-learn transformers, so everything done to a record lives inside the pickled model.

Each model's pipeline is ``SchemaCoercer -> derived -> ColumnSelector -> encoder -> estimator``; the derived step
(``derive_step``) is ``DateParts`` when dates are all there is to expand, or ``DerivedFeatures`` when the plan also
has times of day, dates written as text (``Nov 1 2004``, ``Feb-2018``) or free text (``training/text.py``).
The encoder, chosen by the model family, lives in ``training/encoding.py`` (re-exported here: models pickled before
the split name ``NativeEncoder`` and ``_AsText`` by this module).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from adaptml.schema import Schema
from adaptml.training.encoding import MISSING_LABEL, NativeEncoder, make_encoder
from adaptml.training.encoding import _AsText as _AsText  # noqa: F401 - the name older pickles load
from adaptml.training.text import MAX_TEXT_COLUMNS, TextFeatures, looks_like_text, text_feature_names

__all__ = [
    "DATE_PARTS",
    "LOW_CARDINALITY",
    "MISSING_LABEL",
    "TIME_PARTS",
    "ColumnSelector",
    "DateParts",
    "DerivedFeatures",
    "FeaturePlan",
    "NativeEncoder",
    "derive_step",
    "engineer",
    "make_encoder",
    "plan_features",
]

DATE_PARTS = ("year", "month", "week", "day", "day_of_week", "day_of_year", "days")
TIME_PARTS = ("hour", "minute_of_day")  # only for date columns that carry a time of day
EPOCH = pd.Timestamp("2000-01-01")
LOW_CARDINALITY = 30


@dataclass(frozen=True)
class FeaturePlan:
    """The engineered base features and how each categorical is encoded.

    ``datetime`` columns become date parts (plus ``TIME_PARTS`` for the ``timed`` ones), ``dated_text`` columns
    (dates the schema kept as text) are parsed and expanded the same way, and ``text`` columns add the statistics
    and components of ``training/text.py``; every one of these engineered names is listed in ``numeric``.
    """

    datetime: tuple[str, ...]
    numeric: tuple[str, ...]
    low_cardinality: tuple[str, ...]
    high_cardinality: tuple[str, ...]
    cardinality: dict[str, int]
    timed: tuple[str, ...] = ()
    dated_text: tuple[str, ...] = ()
    text: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.low_cardinality, *self.high_cardinality]

    def kept(self, names: list[str] | tuple[str, ...]) -> FeaturePlan:
        """The same plan restricted to ``names`` (the features selection kept)."""
        keep = set(names)
        return replace(
            self,
            numeric=tuple(n for n in self.numeric if n in keep),
            low_cardinality=tuple(n for n in self.low_cardinality if n in keep),
            high_cardinality=tuple(n for n in self.high_cardinality if n in keep),
            cardinality={k: v for k, v in self.cardinality.items() if k in keep},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_features(schema: Schema, train: pd.DataFrame) -> FeaturePlan:
    """Sort the schema's columns into numeric, date-part, text and low/high-cardinality categorical features."""
    dates = tuple(c.name for c in schema.columns if c.kind == "datetime")
    timed = tuple(name for name in dates if _has_time_of_day(train[name]))
    labels = [c.name for c in schema.columns if c.kind == "categorical"]
    dated_text = tuple(name for name in labels if _looks_like_dates(train[name]))
    wordiness = {name: looks_like_text(train[name]) for name in labels if name not in dated_text}
    text = tuple(sorted((n for n, w in wordiness.items() if w), key=lambda n: -wordiness[n])[:MAX_TEXT_COLUMNS])
    numeric = [c.name for c in schema.columns if c.kind == "numeric"]
    numeric += [f"{name}_{part}" for name in (*dates, *dated_text) for part in DATE_PARTS]
    numeric += [f"{name}_{part}" for name in timed for part in TIME_PARTS]
    numeric += [feature for name in text for feature in text_feature_names(name)]
    # a text column stays a category too unless its values hardly repeat (then a level is noise)
    categorical = [n for n in labels if n not in dated_text and not (n in text and _mostly_unique(train[n]))]
    cardinality = {name: int(train[name].nunique()) for name in categorical}
    return FeaturePlan(
        datetime=dates,
        numeric=tuple(numeric),
        low_cardinality=tuple(n for n in categorical if cardinality[n] <= LOW_CARDINALITY),
        high_cardinality=tuple(n for n in categorical if cardinality[n] > LOW_CARDINALITY),
        cardinality=cardinality,
        timed=timed,
        dated_text=dated_text,
        text=text,
    )


def _has_time_of_day(values: pd.Series) -> bool:
    """Whether a datetime column has times other than midnight (then the hour is worth a feature)."""
    stamps = pd.to_datetime(values, errors="coerce").dropna()
    return bool(len(stamps)) and bool((stamps != stamps.dt.normalize()).mean() >= 0.05)


def _looks_like_dates(values: pd.Series) -> bool:
    """Text that is nearly always a date with a four-digit year (``Nov 1 2004``, ``Feb-2018``, ``5 March 2020``)."""
    present = values.dropna().astype(str)
    if present.empty:
        return False
    sample = present.sample(n=min(500, len(present)), random_state=0)
    with_year = sample.str.contains(r"(?<!\d)(?:1[89]|20)\d\d(?!\d)", regex=True).mean() >= 0.95
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(with_year) and bool(parsed.notna().mean() >= 0.99)


def _mostly_unique(values: pd.Series) -> bool:
    present = values.dropna()
    return int(present.nunique()) > 0.5 * max(len(present), 1)


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


class DerivedFeatures(TransformerMixin, BaseEstimator):
    """``DateParts`` plus times of day, dates written as text, and free-text features (the only part that fits).

    A separate class rather than more options on ``DateParts``, so code that knows ``DateParts`` exactly (the
    compiled serving path) never mistakes one for the other.
    """

    def __init__(
        self,
        dates: tuple[str, ...] = (),
        timed: tuple[str, ...] = (),
        dated_text: tuple[str, ...] = (),
        text: tuple[str, ...] = (),
        seed: int = 0,
    ) -> None:
        self.dates = dates
        self.timed = timed
        self.dated_text = dated_text
        self.text = text
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: object = None) -> DerivedFeatures:  # noqa: N803
        self.text_ = TextFeatures(self.text, seed=self.seed).fit(X) if self.text else None
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        parts: dict[str, pd.Series] = {}
        for name in self.timed:
            stamps = pd.to_datetime(X[name], errors="coerce")
            parts[f"{name}_hour"] = stamps.dt.hour.astype("float64")
            parts[f"{name}_minute_of_day"] = (stamps.dt.hour * 60 + stamps.dt.minute).astype("float64")
        for name in self.dated_text:
            stamps = pd.to_datetime(X[name].astype("object"), errors="coerce", format="mixed")
            parts.update({f"{name}_{part}": _date_part(stamps, part) for part in DATE_PARTS})
        out = DateParts(self.dates).transform(X)
        out = pd.concat([out, pd.DataFrame(parts, index=X.index)], axis=1) if parts else out
        return self.text_.transform(out) if self.text_ is not None else out


def derive_step(plan: FeaturePlan, *, seed: int = 0) -> BaseEstimator:
    """The step that expands dates and text: plain ``DateParts`` when dates are all the plan has to expand."""
    if not (plan.timed or plan.dated_text or plan.text):
        return DateParts(plan.datetime)
    return DerivedFeatures(plan.datetime, plan.timed, plan.dated_text, plan.text, seed=seed)


def engineer(frame: pd.DataFrame, plan: FeaturePlan) -> pd.DataFrame:
    """The base features of a typed frame, as the model pipelines see them after the derived step."""
    return derive_step(plan).fit(frame).transform(frame)[plan.features]


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
