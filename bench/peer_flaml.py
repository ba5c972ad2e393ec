"""Run inside bench/.venvs/flaml: FLAML AutoML on exported train/test frames, scored on the test frame.

``python peer_flaml.py TRAIN.parquet TEST.parquet TARGET TASK METRIC BUDGET_S OUT.json`` — TASK is regression or
classification, METRIC rmse or roc_auc; text columns become pandas categories (FLAML's categorical input).
Writes the best learner, its config, the search and total seconds and the test score to OUT.json.
"""

from __future__ import annotations

import json
import sys
import time


def _features(frame, target):  # type: ignore[no-untyped-def]
    import pandas as pd

    features = frame.drop(columns=[target])
    for name in features.columns:
        column = features[name]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column)):
            features[name] = column.astype("object").astype("category")
    return features


def _score(metric, y_true, model, features):  # type: ignore[no-untyped-def]
    import numpy as np
    from sklearn.metrics import mean_squared_error, roc_auc_score

    if metric == "rmse":
        return float(np.sqrt(mean_squared_error(y_true.astype(float), model.predict(features))))
    proba = model.predict_proba(features)
    classes = list(model.classes_)
    return float(roc_auc_score((y_true.astype(str) == str(classes[1])).astype(int), proba[:, 1]))


def main() -> None:
    import pandas as pd
    from flaml import AutoML

    train_path, test_path, target, task, metric, budget, out = sys.argv[1:8]
    train, test = pd.read_parquet(train_path), pd.read_parquet(test_path)
    x_train, x_test = _features(train, target), _features(test, target)
    y_train = train[target].astype(float) if task == "regression" else train[target].astype(str)
    started = time.perf_counter()
    automl = AutoML()
    automl.fit(
        x_train,
        y_train,
        task=task,
        metric=metric,
        time_budget=float(budget),
        seed=0,
        n_jobs=-1,
        verbose=0,
    )
    seconds = time.perf_counter() - started
    result = {
        "best_learner": automl.best_estimator,
        "best_config": automl.best_config,
        "search_and_fit_seconds": round(seconds, 1),
        "time_budget_s": float(budget),
        "test_score": _score(metric, test[target], automl, x_test),
        "metric": metric,
        "train_rows": len(train),
        "test_rows": len(test),
    }
    with open(out, "w") as handle:
        json.dump(result, handle, indent=2, default=str)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
