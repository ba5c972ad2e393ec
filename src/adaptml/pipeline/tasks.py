"""The Luigi tasks of a training run: thin adapters that load their inputs from the run workspace on S3, call one
core function from ``adaptml.training`` (or ``adaptml.eda``) and write their outputs back, one PUT per object.

    Ingest -> Clean -> Explore ---------------------------------------------.
                    `-> Split -> Select -> Train(model) x N -> Ensemble -> Evaluate -> Publish

Every output lives under ``<registry>/<project>/runs/<run_id>/``; a task is complete when its outputs exist, so a
rerun skips finished work (a killed run resumes) and a published run ends at once (its marker exists).
"""

from __future__ import annotations

from adaptml.pipeline.modelling import Ensemble, Evaluate, Publish, Train
from adaptml.pipeline.preparation import Clean, Explore, Ingest, Select, Split
from adaptml.pipeline.stage import PUBLISHED, Stage, WorkspaceTarget, model_names, real_models

__all__ = [
    "PUBLISHED",
    "Clean",
    "Ensemble",
    "Evaluate",
    "Explore",
    "Ingest",
    "Publish",
    "Select",
    "Split",
    "Stage",
    "Train",
    "WorkspaceTarget",
    "model_names",
    "real_models",
]
