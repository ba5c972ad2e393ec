"""Scoring on the held-back 20 %: the published best model (read back from the registry, verified) and a default
HistGradientBoosting fitted on the same raw training rows. Pure apart from reading the frozen files.

Both are scored the same way: ROC AUC (binary: of the model's second class; multiclass: the mean one-vs-rest AUC
over the classes present, as adaptml's leaderboard computes it) or RMSE, plus accuracy or R² as a second figure.
Rows whose target is missing are dropped from both splits (they cannot be scored or learned from).
"""

from __future__ import annotations

import pickle
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from adaptml.registry import Registry
from adaptml.serving.parsing import parse_csv
from bench.corpus.datasets import Dataset

SEED = 0
MAX_CATEGORIES = 255  # HGB's categorical features take at most max_bins (255) levels; rarer ones are pooled


def read_split(dataset: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frozen train and test files as pandas reads any CSV (no cleaning)."""
    return pd.read_csv(dataset.train_path, low_memory=False), pd.read_csv(dataset.test_path, low_memory=False)


def labelled(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    return frame[frame[target].notna()].reset_index(drop=True)


def label_text(value: Any) -> str:
    """One spelling per label whatever the reader made of it: 1, 1.0, '1' and True-as-1 all read '1'."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def score(dataset: Dataset, y_true: pd.Series, output: np.ndarray, classes: list[Any]) -> dict[str, float]:
    """The dataset's metric and a second figure, from predictions (regression) or probabilities over ``classes``."""
    if dataset.task == "regression":
        y, predicted = y_true.to_numpy(dtype=float), np.asarray(output, dtype=float)
        return {"rmse": float(np.sqrt(skm.mean_squared_error(y, predicted))), "r2": float(skm.r2_score(y, predicted))}
    labels = [label_text(c) for c in classes]
    truth = np.array([label_text(v) for v in y_true])
    proba = np.asarray(output, dtype=float)
    accuracy = float(np.mean(np.array(labels, dtype=object)[proba.argmax(axis=1)] == truth))
    if len(labels) == 2:
        auc = float(skm.roc_auc_score(truth == labels[1], proba[:, 1]))
    else:
        present = [i for i, label in enumerate(labels) if (truth == label).any() and not (truth == label).all()]
        auc = float(np.mean([skm.roc_auc_score(truth == labels[i], proba[:, i]) for i in present]))
    return {"roc_auc": auc, "accuracy": accuracy}


def _hgb_pipeline(features: pd.DataFrame, task: str) -> Pipeline:
    categorical = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=MAX_CATEGORIES,
    )
    prepare = ColumnTransformer([("categorical", encoder, categorical)], remainder="passthrough")
    model_type = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    model = model_type(categorical_features=list(range(len(categorical))), random_state=SEED)
    return Pipeline([("prepare", prepare), ("model", model)])


def _as_text(features: pd.DataFrame) -> pd.DataFrame:
    """Text columns as str objects with NaN for missing (what OrdinalEncoder sorts without mixed-type errors)."""
    out = features.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].map(lambda v: v if pd.isna(v) else str(v)).astype(object)
    return out


def hgb_output(dataset: Dataset, train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, list[Any], float]:
    """A default HistGradientBoosting on the raw training rows (categoricals ordinal-encoded): its output on the
    labelled test rows, its classes (none for regression) and its fit seconds."""
    train, test = labelled(train, dataset.target), labelled(test, dataset.target)
    x_train, x_test = _as_text(train.drop(columns=dataset.target)), _as_text(test.drop(columns=dataset.target))
    for column in x_train.columns:  # a column read as numbers in one file and as text in the other: train decides
        if pd.api.types.is_numeric_dtype(x_train[column]):
            x_test[column] = pd.to_numeric(x_test[column], errors="coerce")
        elif pd.api.types.is_numeric_dtype(x_test[column]) or pd.api.types.is_bool_dtype(x_test[column]):
            x_test[column] = x_test[column].map(lambda v: v if pd.isna(v) else str(v)).astype(object)
    started = time.perf_counter()
    pipeline = _hgb_pipeline(x_train, dataset.task)
    if dataset.task == "regression":
        pipeline.fit(x_train, train[dataset.target].astype(float))
        output, classes = pipeline.predict(x_test), []
    else:
        pipeline.fit(x_train, train[dataset.target].map(label_text))
        output, classes = pipeline.predict_proba(x_test), list(pipeline.classes_)
    return output, classes, round(time.perf_counter() - started, 2)


def hgb_baseline(dataset: Dataset, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    """The default HistGradientBoosting scored on the held-back rows."""
    output, classes, seconds = hgb_output(dataset, train, test)
    truth = labelled(test, dataset.target)[dataset.target]
    return {"status": "ok", **score(dataset, truth, output, classes), "wall_seconds": seconds}


def published_model(registry: Registry) -> tuple[dict[str, Any], Any]:
    """The latest version's manifest and its best model, unpickled only after the registry verified every sha256."""
    loaded = registry.load()
    best = str(loaded.manifest["best_model"])
    return loaded.manifest, pickle.loads(loaded.files[f"models/{best}.pkl"])


def published_output(dataset: Dataset, registry: Registry, test: pd.DataFrame) -> tuple[dict[str, Any], Any, list]:
    """The latest manifest, and the published best model's output and classes on the labelled held-back rows,
    read the way the serving app reads an uploaded CSV."""
    manifest, model = published_model(registry)
    test = labelled(test, dataset.target)
    features = test.drop(columns=dataset.target).to_csv(index=False).encode("utf-8")
    frame = parse_csv(features, max_rows=len(test) + 1, source=f"{dataset.name} test rows")
    if dataset.task == "regression":
        return manifest, model.predict(frame), []
    return manifest, model.predict_proba(frame), list(model.classes_)


def published_facts(dataset: Dataset, manifest: dict[str, Any], test: pd.DataFrame, output: Any, classes: list) -> dict:
    """The score of the published output and what the manifest says about the run."""
    return {
        **score(dataset, labelled(test, dataset.target)[dataset.target], output, classes),
        "best_model": str(manifest["best_model"]),
        "version": str(manifest.get("version", "")),
        "adaptml_task": manifest.get("task"),
        "fit_rows": manifest.get("fit_rows"),
        "leakage": [", ".join(s.get("columns", [])) for s in manifest.get("leakage", [])],
    }


def score_published(dataset: Dataset, registry: Registry, test: pd.DataFrame) -> dict[str, Any]:
    """The published best model on the held-back rows."""
    manifest, output, classes = published_output(dataset, registry, test)
    return published_facts(dataset, manifest, test, output, classes)


def class_order(dataset: Dataset, test: pd.DataFrame, *tool_classes: list[Any]) -> list[str]:
    """One class order for comparing tools' probabilities: the sorted labels (as label_text) of the labelled test
    rows and of every tool's classes (a tool may know a level the others dropped, e.g. a target spelled ``NA``)."""
    if dataset.task == "regression":
        return []
    labels = {label_text(v) for v in labelled(test, dataset.target)[dataset.target]}
    return sorted(labels.union(label_text(c) for classes in tool_classes for c in classes))


def aligned(output: Any, classes: list[Any], order: list[str]) -> np.ndarray:
    """A tool's output in ``order``'s columns (a class the tool never saw gets probability 0); regression as is."""
    if not order:
        return np.asarray(output, dtype=float)
    proba = np.asarray(output, dtype=float)
    where = {label_text(c): i for i, c in enumerate(classes)}
    columns = [proba[:, where[c]] if c in where else np.zeros(len(proba)) for c in order]
    return np.column_stack(columns)


def truth_codes(dataset: Dataset, test: pd.DataFrame, order: list[str]) -> np.ndarray:
    """The labelled held-back targets as floats (regression) or as positions in ``order``."""
    truth = labelled(test, dataset.target)[dataset.target]
    if not order:
        return truth.to_numpy(dtype=float)
    return np.array([order.index(label_text(v)) for v in truth])
