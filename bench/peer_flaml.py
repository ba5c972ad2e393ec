"""Run inside bench/.venvs/flaml: FLAML AutoML with its defaults (every default estimator, ``retrain_full``) on a
train file, its output on a test file.

``python peer_flaml.py TRAIN TEST TARGET TASK METRIC BUDGET_S OUT.json [PREDICTIONS.npy]`` (see peer_common.py).
TASK is regression, classification, binary or multiclass; METRIC rmse or roc_auc (one-vs-rest ``roc_auc_ovr``
when there are more than two classes). Text columns become pandas categories (FLAML's categorical input).
Writes the best learner, its config, the fit seconds, the classes and the test score to OUT.json.
"""

from __future__ import annotations

import time

from peer_common import arguments, finish, read_frame


def _features(frame, target):  # type: ignore[no-untyped-def]
    import pandas as pd

    features = frame.drop(columns=[target])
    for name in features.columns:
        column = features[name]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column)):
            features[name] = column.astype("object").astype("category")
    return features


def _score(metric, y_true, output, classes):  # type: ignore[no-untyped-def]
    import numpy as np
    from sklearn.metrics import mean_squared_error, roc_auc_score

    if metric == "rmse":
        return float(np.sqrt(mean_squared_error(y_true.astype(float), output)))
    if len(classes) == 2:
        return float(roc_auc_score((y_true == classes[1]).astype(int), output[:, 1]))
    return float(roc_auc_score(y_true, output, multi_class="ovr", labels=classes))


def main() -> None:
    import flaml
    from flaml import AutoML

    args = arguments()
    task = "regression" if args["task"] == "regression" else "classification"
    train, test = read_frame(args["train"], args["target"], task), read_frame(args["test"], args["target"], task)
    target = args["target"]
    x_train, x_test = _features(train, target), _features(test, target)
    metric = args["metric"]
    if metric == "roc_auc" and train[target].nunique() > 2:
        metric = "roc_auc_ovr"
    started = time.perf_counter()
    automl = AutoML()
    automl.fit(
        x_train, train[target], task=task, metric=metric, time_budget=args["budget"], seed=0, n_jobs=-1, verbose=0
    )
    fit_seconds, fit_done = time.perf_counter() - started, time.time()
    classes = [] if task == "regression" else [str(c) for c in automl.classes_]
    output = automl.predict(x_test) if task == "regression" else automl.predict_proba(x_test)
    facts = {
        "best_learner": automl.best_estimator,
        "best_config": automl.best_config,
        "library_version": flaml.__version__,
        "flaml_metric": metric,
        "settings": f"flaml.AutoML defaults (estimator_list auto, retrain_full), metric {metric}, seed 0, n_jobs -1",
        "search_and_fit_seconds": round(fit_seconds, 1),
        "fit_done_unix": fit_done,
        "classes": classes,
        "test_score": _score(args["metric"], test[target], output, classes),
        "train_rows": len(train),
        "test_rows": len(test),
    }
    finish(args, facts, output)


if __name__ == "__main__":
    main()
