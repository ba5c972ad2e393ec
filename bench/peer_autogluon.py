"""Run inside bench/.venvs/autogluon: AutoGluon's ``TabularPredictor`` with its default preset (``medium_quality``:
LightGBM, CatBoost, XGBoost, random forests, extra trees, k-NN and a weighted ensemble; the neural nets are left out
because torch is not installed) on a train file, its output on a test file.

``python peer_autogluon.py TRAIN TEST TARGET TASK METRIC BUDGET_S OUT.json [PREDICTIONS.npy]`` (see peer_common.py).
TASK is binary, multiclass or regression; METRIC rmse or roc_auc, which AutoGluon is told as its eval_metric
(root_mean_squared_error, roc_auc; log_loss for multiclass, see ``_eval_metric``). The raw frame goes in as read:
AutoGluon's own feature generators handle text, dates and categories. The model folder is a temporary directory,
removed afterwards.
"""

from __future__ import annotations

import tempfile
import time

from peer_common import arguments, finish, read_frame

PRESET = "medium_quality"


def _eval_metric(metric: str, task: str) -> str:
    if metric == "rmse":
        return "root_mean_squared_error"
    if task == "binary":
        return "roc_auc"
    # Multiclass: log loss, not roc_auc_ovr_macro, which AutoGluon 1.6.3 cannot fit with when a rare class is
    # missing from its holdout (seattle_pets: every model scores NaN and the ensemble step fails).
    return "log_loss"


def main() -> None:
    from autogluon.tabular import TabularPredictor, __version__

    args = arguments()
    task, target = args["task"], args["target"]
    train, test = read_frame(args["train"], target, task), read_frame(args["test"], target, task)
    if task != "regression" and train[target].nunique() == 2:
        task = "binary"
    metric = _eval_metric(args["metric"], task)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        predictor = TabularPredictor(label=target, problem_type=task, eval_metric=metric, path=folder, verbosity=0)
        predictor.fit(train, time_limit=args["budget"], presets=PRESET)
        fit_seconds, fit_done = time.perf_counter() - started, time.time()
        features = test.drop(columns=[target])
        if task == "regression":
            output, classes = predictor.predict(features).to_numpy(), []
        else:
            proba = predictor.predict_proba(features)
            output, classes = proba.to_numpy(), [str(c) for c in proba.columns]
        board = predictor.leaderboard(silent=True)
        facts = {
            "best_learner": str(predictor.model_best),
            "models": [str(m) for m in board["model"]],
            "library_version": __version__,
            "autogluon_metric": metric,
            "settings": f"TabularPredictor defaults, presets={PRESET!r}, time_limit=budget, eval_metric={metric}",
            "search_and_fit_seconds": round(fit_seconds, 1),
            "fit_done_unix": fit_done,
            "classes": classes,
            "train_rows": len(train),
            "test_rows": len(test),
        }
    finish(args, facts, output)


if __name__ == "__main__":
    main()
