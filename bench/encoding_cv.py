"""Cross-validated comparison of feature encodings, on the corpus's frozen TRAINING files only (never the test split).

For each dataset: a row sample of the training file (``--rows``), cleaned and typed the way a run does (without
deduplication, so the raw and the typed rows stay aligned), then k-fold CV of

- ``baseline``: the bench's default HistGradientBoosting on the raw rows (``bench/corpus/scoring.py``);
- ``<model>``: adaptml's whole pipeline for a zoo model (coercion, date parts, encoder, estimator) with its defaults;
  for a native-family model once per ``--overflow`` setting of its ``NativeEncoder`` (``<model>[rank]``: columns
  over the category limit as frequency ranks of every level; ``<model>[missing]``: the commonest levels only).

Each variant is scored per fold (RMSE or ROC AUC, as the quality bench scores), and the report gives the mean, the
fold spread and the paired per-fold difference to the baseline. Run it niced: it uses one core.

    nice -n 19 python -m bench.encoding_cv --only flights,diamonds --rows 50000 --folds 3 --models hgb_default
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold
from threadpoolctl import threadpool_limits

from adaptml.schema import infer_schema
from adaptml.training.cleaning import clean
from adaptml.training.features import plan_features
from adaptml.training.fitting import build_pipeline
from adaptml.training.task import resolve_task, target_labels
from adaptml.training.zoo import spec
from bench.corpus.datasets import Dataset, by_name
from bench.corpus.scoring import _as_text, _hgb_pipeline, label_text, labelled, score

SEED = 0


def prepared(dataset: Dataset, rows: int) -> tuple[pd.DataFrame, pd.DataFrame, Any, Any]:
    """The raw labelled sample, its typed twin (same rows, same order), the schema and the task info."""
    raw = labelled(pd.read_csv(dataset.train_path, low_memory=False), dataset.target)
    if len(raw) > rows:
        raw = raw.sample(n=rows, random_state=SEED).reset_index(drop=True)
    typed, _ = clean(raw, dataset.target, deduplicate=False)
    info = resolve_task(typed[dataset.target], configured_task="auto", configured_metric=None)
    typed[dataset.target] = target_labels(typed[dataset.target], info.task)
    schema = infer_schema(typed, target=dataset.target, task=info.task, classes=info.classes)
    return raw, typed, schema, info


def _folds(y: pd.Series, classify: bool, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if classify:
        return list(StratifiedKFold(k, shuffle=True, random_state=SEED).split(y, y))
    return list(KFold(k, shuffle=True, random_state=SEED).split(y))


def _baseline_fold(dataset: Dataset, raw: pd.DataFrame, fit: np.ndarray, held: np.ndarray) -> dict[str, float]:
    x = _as_text(raw.drop(columns=dataset.target))
    y = raw[dataset.target]
    pipeline = _hgb_pipeline(x, dataset.task)
    if dataset.task == "regression":
        pipeline.fit(x.iloc[fit], y.iloc[fit].astype(float))
        return score(dataset, y.iloc[held], pipeline.predict(x.iloc[held]), [])
    pipeline.fit(x.iloc[fit], y.iloc[fit].map(label_text))
    return score(dataset, y.iloc[held], pipeline.predict_proba(x.iloc[held]), list(pipeline.classes_))


def _model_fold(variant: str, dataset: Dataset, typed: pd.DataFrame, problem: tuple[Any, Any], split: tuple) -> dict:
    schema, info = problem
    name, _, overflow = variant.rstrip("]").partition("[")
    fit, held = split
    train, test = typed.iloc[fit], typed.iloc[held]
    plan = plan_features(schema, train)
    pipeline = build_pipeline(name, schema=schema, plan=plan, info=info, seed=SEED)
    if overflow:
        pipeline.set_params(encode__overflow=overflow)
    pipeline.fit(train, train[dataset.target])
    if dataset.task == "regression":
        return score(dataset, test[dataset.target], pipeline.predict(test), [])
    return score(dataset, test[dataset.target], pipeline.predict_proba(test), list(pipeline.classes_))


def variants(models: list[str], overflows: list[str]) -> list[str]:
    """``model[overflow]`` for every native-family model and overflow setting; other models as they are."""
    return [f"{m}[{o}]" if spec(m).family == "native" and o else m for m in models for o in (overflows or [""])]


def run(dataset: Dataset, *, rows: int, folds: int, models: list[str]) -> dict[str, Any]:
    """Per-fold scores of the baseline and each model, with mean, spread and the paired difference."""
    raw, typed, schema, info = prepared(dataset, rows)
    splits = _folds(typed[dataset.target], dataset.task != "regression", folds)
    metric = dataset.metric
    scores: dict[str, list[float]] = {"baseline": []}
    seconds: dict[str, float] = {}
    with threadpool_limits(1):
        started = time.perf_counter()
        scores["baseline"] = [_baseline_fold(dataset, raw, *split)[metric] for split in splits]
        seconds["baseline"] = time.perf_counter() - started
        for name in models:
            started = time.perf_counter()
            scores[name] = [_model_fold(name, dataset, typed, (schema, info), split)[metric] for split in splits]
            seconds[name] = time.perf_counter() - started
    base = np.asarray(scores["baseline"])
    out: dict[str, Any] = {"rows": len(raw), "folds": folds, "metric": metric, "variants": {}}
    for name, values in scores.items():
        diff = np.asarray(values) - base
        out["variants"][name] = {
            "mean": float(np.mean(values)),
            "std": float(np.std(values)),
            "diff_vs_baseline": float(np.mean(diff)),
            "diff_std": float(np.std(diff)),
            "folds": [round(v, 5) for v in values],
            "seconds": round(seconds[name], 1),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="flights", help="comma-separated corpus datasets")
    parser.add_argument("--rows", type=int, default=50_000, help="row sample of each training file")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--models", default="hgb_default", help="comma-separated zoo models")
    parser.add_argument("--overflow", default="", help="comma-separated NativeEncoder overflow settings to compare")
    parser.add_argument("--out", default="", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    results = {}
    chosen = variants(args.models.split(","), [o for o in args.overflow.split(",") if o])
    for dataset in by_name(args.only):
        results[dataset.name] = run(dataset, rows=args.rows, folds=args.folds, models=chosen)
        print(dataset.name, json.dumps(results[dataset.name]), flush=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
