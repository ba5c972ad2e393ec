"""The pure training core: cleaning, task detection, splitting, features, selection, the zoo, evaluation, packaging.

What a model is (its encoder family, defaults, tuning space, refit) is one ``ModelSpec`` in ``zoo.SPECS``.

Functions here take and return DataFrames and dataclasses and never do I/O; ``adaptml.pipeline`` wires them
into Luigi tasks over S3.
"""

from adaptml.training.cleaning import CleaningReport, clean
from adaptml.training.ensemble import build_ensemble, greedy_weights
from adaptml.training.evaluation import evaluate_model, leaderboard, model_output
from adaptml.training.features import FeaturePlan, plan_features
from adaptml.training.fitting import FitResult, build_pipeline, fit_model
from adaptml.training.packaging import run_id, version_files, version_metadata
from adaptml.training.selection import SelectionReport, select_features
from adaptml.training.splitting import Split, split
from adaptml.training.task import TaskInfo, resolve_task, target_labels
from adaptml.training.zoo import MODEL_NAMES, ModelSpec, spec

__all__ = [
    "CleaningReport",
    "FeaturePlan",
    "FitResult",
    "MODEL_NAMES",
    "ModelSpec",
    "SelectionReport",
    "Split",
    "TaskInfo",
    "build_ensemble",
    "build_pipeline",
    "clean",
    "evaluate_model",
    "fit_model",
    "greedy_weights",
    "leaderboard",
    "model_output",
    "plan_features",
    "resolve_task",
    "run_id",
    "select_features",
    "spec",
    "split",
    "target_labels",
    "version_files",
    "version_metadata",
]
