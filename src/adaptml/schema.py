"""The input schema of a model version: which raw columns a record has, their kinds, categories and ranges.

Training infers it from the raw dataset (``infer_schema``); it is published as ``schema.json``; serving and the
first step of every pickled pipeline use ``coerce`` to turn raw records (strings, numbers, missing markers) into
typed columns. ``strict=True`` names the row and column of the first bad value; ``strict=False`` makes it missing.

Missing markers are a per-column decision, never a global guess: an empty value or ``?`` is missing anywhere (neither
can name a level); a marker word (``NA``, ``none``, ``-``, ...) is missing only in a column of numbers or dates, where
it cannot be a value. In a text column every word is a category level: ``none`` next to ``fitted`` is information.
Each column records the spellings it read as missing (``ColumnSpec.missing_markers``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from adaptml.errors import InputError

__all__ = [
    "MISSING_MARKERS",
    "UNKNOWN_MARKERS",
    "ColumnSpec",
    "Schema",
    "SchemaCoercer",
    "coerce_column",
    "infer_column",
    "infer_kind",
    "infer_schema",
]

Kind = Literal["numeric", "categorical", "datetime"]

UNKNOWN_MARKERS = frozenset({"", "?"})  # missing in every column: neither can name a category level
MISSING_MARKERS = UNKNOWN_MARKERS | frozenset(  # missing only where a value must be a number or a date
    {"na", "n/a", "nan", "null", "none", "nil", "-", "--", "not_applicable", "missing", "#n/a"}
)
_NUMBER_TEXT = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?([eE][+-]?\d+)?$|^[+-]?\.\d+$")
_TRUE = {"true", "yes", "y", "t"}
_FALSE = {"false", "no", "n", "f"}
MAX_CATEGORIES = 200


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    dtype: str = ""
    nullable: bool = True
    min: float | str | None = None
    max: float | str | None = None
    integer: bool = False
    categories: tuple[str, ...] = ()
    n_unique: int = 0
    missing_markers: tuple[str, ...] = ()

    def markers(self) -> frozenset[str]:
        """The lower-cased spellings this column reads as missing: its own, plus the unambiguous ones for its kind."""
        shared = UNKNOWN_MARKERS if self.kind == "categorical" else MISSING_MARKERS
        return shared | {marker.lower() for marker in self.missing_markers}


@dataclass(frozen=True)
class Schema:
    target: str
    task: str
    columns: tuple[ColumnSpec, ...]
    classes: tuple[Any, ...] = ()
    example: dict[str, Any] = field(default_factory=dict)
    example_synthetic: bool = False  # False: an older schema, whose example was a real training row

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(name)

    # -- serialisation -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["classes"] = list(self.classes)
        for col in data["columns"]:
            col["categories"] = list(col["categories"])
            col["missing_markers"] = list(col["missing_markers"])
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_json_default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        columns = tuple(
            ColumnSpec(
                **{
                    **c,
                    "categories": tuple(c.get("categories", ())),
                    "missing_markers": tuple(c.get("missing_markers", ())),
                }
            )
            for c in data["columns"]
        )
        synthetic = data.get("example_synthetic") is True
        return cls(  # an older schema's example was a real training row: replaced by a typical record
            target=data["target"],
            task=data["task"],
            columns=columns,
            classes=tuple(data.get("classes", ())),
            example=dict(data.get("example", {})) if synthetic else _typical_record(columns),
            example_synthetic=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Schema:
        return cls.from_dict(json.loads(text))

    # -- coercion ----------------------------------------------------------------------------------
    def coerce(self, frame: pd.DataFrame, *, strict: bool = True, row_offset: int = 1) -> pd.DataFrame:
        """Typed copy of ``frame`` with exactly the schema's columns, in order.

        Missing columns are an InputError; extra columns are dropped (callers report them via ``extra_columns``).
        Rows are numbered from ``row_offset`` in messages (1 = the first data row).
        """
        missing = [name for name in self.names if name not in frame.columns]
        if missing:
            listed = ", ".join(f"'{m}'" for m in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise InputError(f"missing column{'s' if len(missing) > 1 else ''} {listed}{more}")
        return pd.DataFrame(
            {
                spec.name: coerce_column(frame[spec.name], spec, strict=strict, row_offset=row_offset)
                for spec in self.columns
            },
            index=frame.index,
        )

    def with_missing_markers(self, markers: Mapping[str, Iterable[str]]) -> Schema:
        """This schema with each named column also reading the given spellings as missing (cleaning's decisions)."""
        columns = tuple(
            replace(spec, missing_markers=tuple(sorted({*spec.missing_markers, *markers.get(spec.name, ())})))
            for spec in self.columns
        )
        return replace(self, columns=columns)

    def extra_columns(self, columns: Iterable[object]) -> list[str]:
        known = set(self.names) | {self.target}
        return [str(c) for c in columns if c not in known]


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _as_text(series: pd.Series, markers: frozenset[str] = UNKNOWN_MARKERS) -> pd.Series:
    """Strings stripped of whitespace (an object column), with the given lower-cased markers turned into NaN.

    A column of strings is cleaned once per distinct value (columns repeat their values: hundreds of thousands of
    rows, a few thousand levels); a mixed column value by value, since ``1`` and ``1.0`` are equal keys but
    different text.
    """
    if pd.api.types.infer_dtype(series, skipna=True) == "string":
        codes, levels = pd.factorize(series, use_na_sentinel=True)
        texts = [str(value).strip() for value in levels] + [""]  # the last one stands for the missing values
        cleaned = np.array([np.nan if text.lower() in markers else text for text in texts], dtype=object)
        return pd.Series(cleaned[np.where(codes < 0, len(levels), codes)], index=series.index, dtype=object)
    present = series.notna().to_numpy()
    values = series.to_numpy(dtype=object)
    rows = []
    for value, keep in zip(values, present, strict=True):
        text = str(value).strip() if keep else ""
        rows.append(np.nan if text.lower() in markers else text)
    return pd.Series(rows, index=series.index, dtype=object)


def _number_text(value: object, booleans: bool = True) -> object:
    """Thousands separators dropped from number-like text, yes/no words as 1.0/0.0, other text lowercased."""
    if not isinstance(value, str):
        return value
    lowered = (value.replace(",", "") if _NUMBER_TEXT.match(value) else value).lower()
    if not booleans:
        return lowered
    return 1.0 if lowered in _TRUE else 0.0 if lowered in _FALSE else lowered


def _to_number(text: pd.Series, booleans: bool = True) -> pd.Series:
    """Numbers from cleaned text (``_as_text``'s strings), each distinct spelling parsed once."""
    codes, levels = pd.factorize(text, use_na_sentinel=True)
    cleaned = [_number_text(value, booleans) for value in levels] + [np.nan]
    numbers = pd.to_numeric(pd.Series(cleaned, dtype=object), errors="coerce").to_numpy(dtype="float64")
    return pd.Series(numbers[np.where(codes < 0, len(levels), codes)], index=text.index)


def _bad_value(text: pd.Series, parsed: pd.Series, name: str, expected: str, row_offset: int) -> InputError:
    bad = text.notna() & parsed.isna()
    position = int(np.flatnonzero(bad.to_numpy())[0])
    value = str(text.iloc[position])
    shown = value if len(value) <= 40 else value[:37] + "..."
    count = int(bad.sum())
    more = f" ({count} bad values in this column)" if count > 1 else ""
    return InputError(
        f"row {position + row_offset}, column '{name}': expected {expected}, got {shown!r}{more}",
        details={"row": position + row_offset, "column": name},
    )


def coerce_column(series: pd.Series, spec: ColumnSpec, *, strict: bool, row_offset: int = 1) -> pd.Series:
    """One raw column converted to its schema kind (float64, object strings or datetime64)."""
    if spec.kind == "numeric" and pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    text = _as_text(series, spec.markers())
    if spec.kind == "numeric":
        parsed = _to_number(text)
        if strict and (text.notna() & parsed.isna()).any():
            raise _bad_value(text, parsed, spec.name, "a number", row_offset)
        return parsed.astype("float64")
    if spec.kind == "datetime":
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        if strict and (text.notna() & parsed.isna()).any():
            raise _bad_value(text, parsed, spec.name, "a date", row_offset)
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        return parsed.astype("datetime64[ns]")
    return text.astype("object")


def infer_kind(series: pd.Series, *, booleans: bool = True) -> Kind:
    """numeric if (nearly) every present value parses as a number, datetime if as a date, else categorical."""
    return infer_column(series, booleans=booleans)[0]


def infer_column(series: pd.Series, *, booleans: bool = True) -> tuple[Kind, tuple[str, ...]]:
    """The column's kind, and the spellings (as written) it reads as missing: see the module docstring.

    With ``booleans`` a column of only yes/no-like words is numeric (1/0); the target keeps such words as labels.
    """
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return "numeric", ()
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime", ()
    text = _as_text(series, frozenset({""})).dropna()
    lowered = text.str.lower()
    unknown, words = lowered.isin(UNKNOWN_MARKERS), lowered.isin(MISSING_MARKERS)
    values = text[~words]
    if values.empty:
        return "categorical", _spellings(text[unknown])
    if booleans and lowered[~unknown].isin(_TRUE | _FALSE).all():
        return "numeric", _spellings(text[unknown])
    if _to_number(values, booleans=False).notna().mean() >= 0.99:
        return "numeric", _spellings(text[words])
    sample = values.head(2000)
    looks_dated = sample.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", regex=True).mean() >= 0.95
    if looks_dated and pd.to_datetime(sample, errors="coerce", format="mixed").notna().mean() >= 0.99:
        return "datetime", _spellings(text[words])
    return "categorical", _spellings(text[unknown])


def _spellings(markers: pd.Series) -> tuple[str, ...]:
    return tuple(sorted(set(markers.tolist())))


def infer_schema(frame: pd.DataFrame, *, target: str, task: str, classes: Iterable[Any] = ()) -> Schema:
    """The schema of every feature column of a raw frame (all columns but the target)."""
    specs = []
    for name in frame.columns:
        if name == target:
            continue
        specs.append(_spec_for(str(name), frame[name]))
    schema = Schema(target=target, task=task, columns=tuple(specs), classes=tuple(classes))
    typed = schema.coerce(frame.drop(columns=[target], errors="ignore"), strict=False)
    example = _example_record(typed, schema)
    return Schema(target, task, schema.columns, schema.classes, example, example_synthetic=True)


def _spec_for(name: str, series: pd.Series) -> ColumnSpec:
    kind, markers = infer_column(series)
    typed = coerce_column(series, ColumnSpec(name=name, kind=kind, missing_markers=markers), strict=False)
    nullable = bool(typed.isna().any())
    n_unique = int(typed.nunique())
    if kind == "numeric":
        present = typed.dropna()
        integer = bool(len(present)) and bool((present == present.round()).all())
        low = float(present.min()) if len(present) else None
        high = float(present.max()) if len(present) else None
        return ColumnSpec(name, kind, "float64", nullable, low, high, integer, (), n_unique, markers)
    if kind == "datetime":
        present = typed.dropna()
        low_s = present.min().isoformat() if len(present) else None
        high_s = present.max().isoformat() if len(present) else None
        return ColumnSpec(name, kind, "datetime64[ns]", nullable, low_s, high_s, False, (), n_unique, markers)
    counts = typed.value_counts()
    categories = tuple(str(c) for c in counts.index[:MAX_CATEGORIES])
    return ColumnSpec(name, "categorical", "object", nullable, None, None, False, categories, n_unique, markers)


def _example_record(typed: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """A synthetic record: each column's median (numbers, dates) or most frequent level, never a real training row,
    which the schema would otherwise publish to everyone who can open the form or the API."""
    record: dict[str, Any] = {}
    for spec in schema.columns:
        column = typed[spec.name].dropna() if spec.name in typed.columns else pd.Series(dtype=object)
        if column.empty:
            record[spec.name] = None
        elif spec.kind == "numeric":
            value = float(column.median())
            record[spec.name] = round(value) if spec.integer else value
        elif spec.kind == "datetime":
            record[spec.name] = pd.Timestamp(column.astype("int64").median()).date().isoformat()
        else:
            record[spec.name] = str(column.mode().iloc[0])
    return record


def _typical_record(columns: Iterable[ColumnSpec]) -> dict[str, Any]:
    """A synthetic record from the column specs alone, for schemas published with a real row as their example:
    the most frequent level, the middle of a numeric or date range."""
    record: dict[str, Any] = {}
    for spec in columns:
        value: Any = None
        if spec.kind == "categorical":
            value = spec.categories[0] if spec.categories else None
        elif spec.kind == "numeric" and isinstance(spec.min, int | float) and isinstance(spec.max, int | float):
            middle = (spec.min + spec.max) / 2
            value = round(middle) if spec.integer else middle
        elif spec.kind == "datetime" and spec.min is not None and spec.max is not None:
            low, high = pd.Timestamp(str(spec.min)), pd.Timestamp(str(spec.max))
            value = (low + (high - low) / 2).date().isoformat()
        record[spec.name] = value
    return record


class SchemaCoercer(TransformerMixin, BaseEstimator):
    """The first step of every pickled pipeline: raw records in, typed schema columns out (lenient).

    A scikit-learn transformer (fit is a no-op) so the whole cleaning of a record lives inside the model.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema

    def fit(self, X: pd.DataFrame, y: object = None) -> SchemaCoercer:  # noqa: N803 - sklearn's naming
        self.schema_ = Schema.from_dict(self.schema)
        self.feature_names_in_ = np.asarray(self.schema_.names, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=self.schema_.names)
        for name in self.schema_.names:
            if name not in frame.columns:
                frame = frame.assign(**{name: np.nan})
        return self.schema_.coerce(frame, strict=False)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(self.schema_.names, dtype=object)
