"""The Luigi tasks of a training run: thin adapters that load their declared inputs from the run workspace on S3,
call one core function from ``adaptml.training`` (or ``adaptml.eda``) and dump their declared outputs back, one PUT
per artifact (the layout is ``adaptml.pipeline.workspace``).

    Ingest -> Clean -> Explore -------------------------------------------------------------------------.
                    `-> Split -> Select -> Train(model) x N -> Ensemble -> Evaluate -> Refit(model) x N -> Publish

Each task requires every task whose outputs it reads (Train requires Clean, Split, Select and the models before it
in priority order), so the Luigi graph is the data graph. Explore runs right after Clean (its Luigi priority), so
its time, bounded by its share of the budget, is spent before the training stages plan with what is left. A task is
complete when its outputs exist, so a rerun skips finished work (a killed run resumes) and a published run ends at
once (its record exists).
"""

from __future__ import annotations

from adaptml.pipeline.modelling import Ensemble, Evaluate, Train
from adaptml.pipeline.preparation import Clean, Explore, Ingest, Select, Split
from adaptml.pipeline.publishing import Publish
from adaptml.pipeline.refitting import Refit
from adaptml.pipeline.stage import Stage, WorkspaceTarget

__all__ = [
    "Clean",
    "Ensemble",
    "Evaluate",
    "Explore",
    "Ingest",
    "Publish",
    "Refit",
    "Select",
    "Split",
    "Stage",
    "Train",
    "WorkspaceTarget",
]
