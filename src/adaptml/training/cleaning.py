"""Cleaning: a raw frame in, a typed frame and a report of every decision out.

Types come from the input schema (``adaptml.schema``): whitespace is stripped, numbers stored as text (with thousands
separators), dates and yes/no words are parsed. A value is read as missing only where that reading is unambiguous
(an empty value or ``?`` anywhere; a marker word such as ``NA`` or ``none`` in a column of numbers or dates); in a text
column every word is a category level. Rows without a target are dropped, then ID-like columns, then exact duplicate
rows (so an index column cannot make repeats look unique), then constant columns. Every step is counted in the report.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from adaptml.errors import DataError
from adaptml.schema import MISSING_MARKERS, ColumnSpec, coerce_column, infer_column
from adaptml.training.task import missing_target_message

__all__ = ["MIN_ROWS", "CleaningReport", "clean"]

MIN_ROWS = 10
_BOOLEAN_WORDS = frozenset({"true", "yes", "y", "t", "false", "no", "n", "f"})
_ID_NAME = re.compile(r"(^|[_\s-])id$|^id[_\s-]|^unnamed(: \d+)?$|^index$", re.IGNORECASE)


@dataclass(frozen=True)
class CleaningReport:
    """Every decision cleaning made, counted.

    ``dropped_columns`` maps a column to why it went; ``missing_markers`` maps a column to the spellings read as
    missing and how often; ``kept_as_levels`` lists marker-like words kept as category levels (not guessed away);
    ``duplicate_rows`` counts exact repeats removed after ID-like columns were dropped.
    """

    rows_in: int
    columns_in: int
    rows_out: int
    columns_out: int
    duplicate_rows: int
    missing_target_rows: int
    dropped_columns: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    parsed_from_text: dict[str, str] = field(default_factory=dict)
    whitespace_stripped: dict[str, int] = field(default_factory=dict)
    missing_markers: dict[str, dict[str, int]] = field(default_factory=dict)
    kept_as_levels: dict[str, list[str]] = field(default_factory=dict)
    unparsed_values: dict[str, int] = field(default_factory=dict)
    missing_values: dict[str, int] = field(default_factory=dict)
    target_missing_markers: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clean(
    frame: pd.DataFrame,
    target: str,
    drop: tuple[str, ...] | list[str] = (),
    *,
    keep: tuple[str, ...] = (),
    deduplicate: bool = True,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Typed copy of ``frame`` (features typed by the inferred schema, target cleaned) and what was done to it.

    Columns in ``keep`` (e.g. the time column of a time split) are never dropped as ID-like or constant. Exact
    duplicate rows (ignoring dropped columns) go unless ``deduplicate`` is off (repeats are real observations).
    """
    _check_shape(frame, target, drop)
    raw = frame.drop(columns=list(drop))
    labels, target_markers = _clean_target(raw[target], target)
    features = raw.drop(columns=[target])
    typed, specs = _typed_features(features)
    counts = _value_counts(features, typed, specs)
    typed[target] = labels
    has_target = typed[target].notna()
    typed = typed.loc[has_target]
    dropped = {name: "listed in data.drop" for name in drop}
    ids = _id_columns(typed.drop(columns=[target]))
    dropped.update({name: why for name, why in ids.items() if name not in keep})
    typed = typed.drop(columns=[n for n in dropped if n in typed.columns])
    deduplicated = typed.loc[~typed.duplicated()] if deduplicate else typed
    constant = _constant_columns(deduplicated.drop(columns=[target]))
    dropped.update({name: why for name, why in constant.items() if name not in keep})
    result = deduplicated.drop(columns=[n for n in dropped if n in deduplicated.columns]).reset_index(drop=True)
    _check_usable(result, target)
    kept = [c for c in result.columns if c != target]
    report = CleaningReport(
        rows_in=len(frame),
        columns_in=frame.shape[1],
        rows_out=len(result),
        columns_out=result.shape[1],
        duplicate_rows=int(len(typed) - len(deduplicated)),
        missing_target_rows=int((~has_target).sum()),
        dropped_columns=dropped,
        kinds={spec.name: spec.kind for spec in specs if spec.name in kept},
        parsed_from_text={k: v for k, v in counts["parsed"].items() if k in kept},
        whitespace_stripped=_nonzero(counts["stripped"]),
        missing_markers={k: v for k, v in counts["markers"].items() if v},
        kept_as_levels={k: v for k, v in counts["levels"].items() if v and k in kept},
        unparsed_values=_nonzero(counts["unparsed"]),
        missing_values=_nonzero({name: int(result[name].isna().sum()) for name in kept}),
        target_missing_markers=target_markers,
    )
    return result, report


def _typed_features(features: pd.DataFrame) -> tuple[pd.DataFrame, tuple[ColumnSpec, ...]]:
    """Each feature's kind and missing markers inferred, and the column converted once.

    Only the kind and the markers matter here (the published schema is inferred from the cleaned frame), so this is
    not ``infer_schema``, which converts every column twice more (ranges, levels, an example record).
    """
    specs, typed = [], {}
    for name in features.columns:
        kind, markers = infer_column(features[name])
        spec = ColumnSpec(name=str(name), kind=kind, missing_markers=markers)
        typed[spec.name] = _convert(features[name], spec)
        specs.append(spec)
    return pd.DataFrame(typed, index=features.index), tuple(specs)


def _convert(series: pd.Series, spec: ColumnSpec) -> pd.Series:
    """``coerce_column`` applied to each distinct text value once, spread back over the rows.

    The conversion reads one value at a time (in Python), so a repeated level costs once instead of once per row;
    a column of mostly distinct values (or not text) is converted directly.
    """
    if not pd.api.types.is_object_dtype(series) and not pd.api.types.is_string_dtype(series):
        return coerce_column(series, spec, strict=False)
    codes, levels = pd.factorize(series, use_na_sentinel=True)
    if 2 * len(levels) > len(series):
        return coerce_column(series, spec, strict=False)
    distinct = coerce_column(pd.Series([*levels, None], dtype=object), spec, strict=False).to_numpy()
    rows = distinct[np.where(codes < 0, len(levels), codes)]
    return pd.Series(rows, index=series.index, name=series.name, dtype=distinct.dtype)


LABEL_NA_MARKERS = frozenset({"na", "n/a", "nan", "null", "#n/a", "<na>"})


def _clean_target(series: pd.Series, name: str) -> tuple[pd.Series, dict[str, int]]:
    """The target stripped, with unambiguous markers as missing (counted); numbers when it is numeric.

    Yes/no words stay labels (``Yes`` is a class name, not 1). In a label target only the spellings of "not
    available" (``NA``, ``N/A``, ``NaN``, ``null``, ``#N/A``) are missing: no one trains a model to predict the class
    "NA", whereas ``none`` or ``-`` can be a real outcome. Every marker word is missing in a number target.
    """
    kind, markers = infer_column(series, booleans=False)
    if kind != "numeric":
        text = series.dropna().astype(str).str.strip()
        markers = tuple(sorted({*markers, *text[text.str.lower().isin(LABEL_NA_MARKERS)].unique()}))
    if kind == "datetime":
        raise DataError(f"target column '{name}' holds dates; use a number or a label as the target")
    typed = coerce_column(series, ColumnSpec(name=name, kind=kind, missing_markers=markers), strict=False)
    if typed.notna().sum() == 0:
        raise DataError(f"target column '{name}' has no values (every row is missing)")
    text = series.dropna().astype(str).str.strip()
    counts = {marker: int((text == marker).sum()) for marker in markers}
    return (typed if kind == "numeric" else typed.astype("object")), counts


def _check_shape(frame: pd.DataFrame, target: str, drop: tuple[str, ...] | list[str]) -> None:
    if frame.shape[1] == 0 or frame.empty:
        raise DataError("the dataset has no rows")
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise DataError(missing_target_message(target, columns))
    unknown = [name for name in drop if name not in columns]
    if unknown:
        raise DataError(f"data.drop names column '{unknown[0]}', which is not in the dataset")
    if target in drop:
        raise DataError(f"data.drop lists the target column '{target}'")


def _check_usable(result: pd.DataFrame, target: str) -> None:
    if len(result) < MIN_ROWS:
        raise DataError(f"only {len(result)} usable row(s) after cleaning; at least {MIN_ROWS} are needed")
    if result.shape[1] < 2:
        raise DataError(f"no usable feature columns besides the target '{target}'")


def _id_columns(features: pd.DataFrame) -> dict[str, str]:
    """ID-like columns: a distinct value per row that numbers or names the row."""
    rows = len(features)
    return {
        str(name): "ID-like (a distinct value per row)"
        for name in features.columns
        if rows >= MIN_ROWS
        and int(features[name].nunique(dropna=True)) == rows
        and _looks_like_id(str(name), features[name])
    }


def _constant_columns(features: pd.DataFrame) -> dict[str, str]:
    """Columns with a single value (or none) on every row: nothing to learn from."""
    reasons: dict[str, str] = {}
    for name in features.columns:
        distinct = int(features[name].nunique(dropna=True))
        if distinct == 0:
            reasons[str(name)] = "empty (every value missing)"
        elif distinct == 1:
            reasons[str(name)] = "constant"
    return reasons


def _looks_like_id(name: str, column: pd.Series) -> bool:
    if _ID_NAME.search(name.strip()):
        return True
    if pd.api.types.is_numeric_dtype(column):
        values = column.dropna().to_numpy(dtype=float)
        if not np.all(values == np.round(values)):
            return False
        ordered = np.sort(values)
        return bool(np.all(np.diff(ordered) == 1))
    if pd.api.types.is_datetime64_any_dtype(column):
        return False
    # all-distinct prose (reviews, tweets) is free text for the text features, not a key
    words = [len(str(value).split()) for value in column.dropna().head(2000)]
    return not words or float(np.mean(words)) < 2


def _value_counts(raw: pd.DataFrame, typed: pd.DataFrame, specs: tuple[ColumnSpec, ...]) -> dict[str, dict[str, Any]]:
    """Per column: values stripped of whitespace, markers read as missing (by spelling), marker-like words kept as
    category levels, values that did not parse, and what text was parsed as."""
    out: dict[str, dict[str, Any]] = {"stripped": {}, "markers": {}, "levels": {}, "unparsed": {}, "parsed": {}}
    for spec in specs:
        series = raw[spec.name]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            out["unparsed"][spec.name] = int(typed[spec.name].isna().sum() - series.isna().sum())
            continue
        text = series.dropna().astype(str)
        stripped = text.str.strip()
        markers = {marker: int((stripped == marker).sum()) for marker in spec.missing_markers}
        empty = int((stripped == "").sum())
        out["stripped"][spec.name] = int((text != stripped).sum())
        out["markers"][spec.name] = markers
        out["unparsed"][spec.name] = int(
            typed[spec.name].isna().sum() - series.isna().sum() - empty - sum(markers.values())
        )
        if spec.kind == "categorical":
            words = stripped[stripped.str.lower().isin(MISSING_MARKERS)].unique().tolist()
            out["levels"][spec.name] = sorted(str(word) for word in words if word not in spec.missing_markers and word)
        else:
            out["parsed"][spec.name] = _parsed_as(spec, stripped)
    return out


def _parsed_as(spec: ColumnSpec, stripped: pd.Series) -> str:
    if spec.kind == "numeric" and stripped.str.lower().isin(_BOOLEAN_WORDS).any():
        return "numeric (yes/no words as 1/0)"
    return f"{spec.kind} (stored as text)"


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {name: count for name, count in counts.items() if count}
