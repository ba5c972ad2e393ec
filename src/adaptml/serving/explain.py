"""Why a model answered as it did: each row's top feature contributions, per model, through the pickled pipeline.

- LightGBM: ``pred_contrib=True``; XGBoost: ``pred_contribs=True`` (exact TreeSHAP values on the raw margin:
  log-odds for classifiers, the prediction for regressors; ``base`` is the expected value);
- linear models (a ``coef_``): coefficient x encoded value (the linear family's encoder standardises numbers),
  ``base`` the intercept;
- any other model: no contributions, ``explanation: "not available for <model>"``.

Contributions are computed on the encoded features and summed per input column (a one-hot level, a missing
indicator or a date part counts for the column it came from). For classifiers, the contributions are toward the
predicted class (the positive class of a binary model).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_EXPLAIN_ROWS", "TOP_CONTRIBUTIONS", "explain_model"]

MAX_EXPLAIN_ROWS = 100
TOP_CONTRIBUTIONS = 5


def _feature_names(head: Any, width: int) -> list[str]:
    """The encoder's output names; without them, a ColumnTransformer's input columns per output slice."""
    encoder = head[-1]
    try:
        names = [str(name) for name in encoder.get_feature_names_out()]
    except Exception:  # noqa: BLE001 - an encoder without names (e.g. a FunctionTransformer inside)
        names = _slice_names(encoder, width)
    return names if len(names) == width else [f"feature_{index}" for index in range(width)]


def _slice_names(encoder: Any, width: int) -> list[str]:
    indices = getattr(encoder, "output_indices_", None)
    if indices is None:
        return []
    names = [f"feature_{index}" for index in range(width)]
    for transformer, fitted, columns in getattr(encoder, "transformers_", ()):
        part = indices.get(transformer)
        if part is None or not isinstance(columns, list | tuple):
            continue
        span = range(part.start, min(part.stop, width))
        inner = _last_step_names(fitted, [str(c) for c in columns], len(span))
        for offset, index in enumerate(span):
            if inner is not None:
                names[index] = inner[offset]
            elif len(span) == len(columns):
                names[index] = str(columns[offset])
            else:
                names[index] = str(columns[0]) if len(columns) == 1 else str(transformer)
    return names


def _last_step_names(fitted: Any, columns: list[str], width: int) -> list[str] | None:
    """A transformer's outputs named from its input columns: the whole sub-pipeline, else its last step (a one-hot
    encoder behind a step without names: ``city_paris``); None when neither can."""
    for step in (fitted, fitted[-1]) if hasattr(fitted, "steps") else (fitted,):
        try:
            names = [str(name) for name in step.get_feature_names_out(columns)]
        except Exception:  # noqa: BLE001 - a step whose inputs are not the columns (or without names)
            continue
        if len(names) == width:
            return names
    return None


def _input_column(feature: str, columns: list[str]) -> str:
    """The input column an encoded feature came from: ``one_hot__city_paris`` -> ``city``."""
    unprefixed = feature.split("__", 1)[1] if "__" in feature else feature
    for rest in (feature, unprefixed.removeprefix("missingindicator_")):
        matches = [name for name in columns if rest == name or rest.startswith(f"{name}_")]
        if matches:
            return max(matches, key=len)
    return unprefixed


def _by_column(values: np.ndarray, features: list[str], columns: list[str], top: int) -> list[dict[str, Any]]:
    summed: dict[str, float] = {}
    for feature, value in zip(features, values, strict=True):
        column = _input_column(feature, columns)
        summed[column] = summed.get(column, 0.0) + float(value)
    ranked = sorted(summed.items(), key=lambda item: abs(item[1]), reverse=True)[:top]
    return [{"column": column, "contribution": value} for column, value in ranked]


def _class_index(estimator: Any, predicted: np.ndarray) -> np.ndarray:
    classes = list(getattr(estimator, "classes_", []))
    return np.asarray([classes.index(label) if label in classes else 0 for label in predicted])


def _tree_contributions(inner: Any, encoded: Any, outer: Any, predicted: np.ndarray) -> tuple[str, np.ndarray] | None:
    """(method, rows x (features + 1)) from LightGBM or XGBoost, the last column the bias; None for others."""
    module = type(inner).__module__
    if module.startswith("lightgbm"):
        raw, method = np.asarray(inner.predict(encoded, pred_contrib=True)), "lightgbm pred_contrib"
    elif module.startswith("xgboost"):
        import xgboost

        matrix = xgboost.DMatrix(encoded, enable_categorical=True)
        raw, method = np.asarray(inner.get_booster().predict(matrix, pred_contribs=True)), "xgboost pred_contribs"
    else:
        return None
    width = np.shape(encoded)[1] + 1
    if raw.ndim == 3:  # xgboost multiclass: rows x classes x (features + 1)
        return method, raw[np.arange(len(raw)), _class_index(outer, predicted)]
    if raw.shape[1] > width:  # lightgbm multiclass: the classes' blocks side by side
        blocks = raw.reshape(len(raw), -1, width)
        return method, blocks[np.arange(len(raw)), _class_index(outer, predicted)]
    return method, raw


def _linear_contributions(estimator: Any, encoded: Any, predicted: np.ndarray) -> np.ndarray:
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype="float64"))
    intercept = np.atleast_1d(np.asarray(getattr(estimator, "intercept_", 0.0), dtype="float64"))
    rows = np.arange(len(predicted))
    pick = _class_index(estimator, predicted) if len(coef) > 1 else np.zeros(len(predicted), dtype=int)
    values = np.asarray(encoded, dtype="float64") * coef[pick]
    bias = intercept[pick] if len(intercept) > 1 else np.full(len(rows), intercept[0])
    return np.column_stack([values, bias])


def explain_model(name: str, pipeline: Any, records: pd.DataFrame, *, top: int = TOP_CONTRIBUTIONS) -> list[Any]:
    """One explanation per row of ``records`` (raw, as the pipeline takes them): ``{method, base, contributions}``
    or ``{explanation: "not available for <name>"}``."""
    unavailable = [{"explanation": f"not available for {name}"}] * len(records)
    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) < 2:
        return unavailable
    head, estimator = pipeline[:-1], pipeline[-1]
    inner = getattr(estimator, "model_", estimator)
    try:
        encoded = head.transform(records)
        predicted = np.asarray(pipeline.predict(records))
        tree = _tree_contributions(inner, encoded, estimator, predicted)
        if tree is not None:
            method, table = tree
        elif hasattr(inner, "coef_"):
            method, table = "linear coefficient x encoded value", _linear_contributions(inner, encoded, predicted)
        else:
            return unavailable
    except Exception as error:  # noqa: BLE001 - an explanation never fails the prediction
        return [{"explanation": f"failed for {name}: {type(error).__name__}"}] * len(records)
    features = _feature_names(head, table.shape[1] - 1)
    columns = [str(column) for column in records.columns]
    return [
        {"method": method, "base": float(row[-1]), "contributions": _by_column(row[:-1], features, columns, top)}
        for row in table
    ]
