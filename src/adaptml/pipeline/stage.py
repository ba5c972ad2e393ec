"""The base of every pipeline task: the workspace target, start/finish/failure events, shared loaders."""

from __future__ import annotations

import time
from typing import ClassVar

import luigi
import pandas as pd

from adaptml.errors import AdaptmlError
from adaptml.pipeline.context import RunContext, StageEvent, context_for
from adaptml.schema import Schema
from adaptml.training import TaskInfo, target_labels

__all__ = ["PUBLISHED", "Stage", "WorkspaceTarget", "load_frame", "load_problem", "model_names", "real_models"]

PUBLISHED = "published.json"


def model_names(models: tuple[str, ...]) -> list[str]:
    """The zoo of a run: the dummy baseline first, then the configured models."""
    return ["dummy", *[m for m in models if m != "dummy"]]


def real_models(models: tuple[str, ...]) -> list[str]:
    return [m for m in models if m != "dummy"]


class WorkspaceTarget(luigi.Target):
    """An object in the run workspace; it exists once its single PUT has completed."""

    def __init__(self, run_id: str, path: str) -> None:
        self.run_id = run_id
        self.path = path

    def exists(self) -> bool:
        context = context_for(self.run_id)
        return context.client().exists(context.uri(self.path))


class Stage(luigi.Task):
    """Base of every task: reports start, finish and failure (with the original one-line error) to the runner."""

    run_id = luigi.Parameter()
    stage: ClassVar[str] = ""

    @property
    def context(self) -> RunContext:
        return context_for(str(self.run_id))

    def label(self) -> str:
        return self.stage

    def target(self, path: str) -> WorkspaceTarget:
        return WorkspaceTarget(str(self.run_id), path)

    def run(self) -> None:
        context = self.context
        context.emit(StageEvent("start", self.label()))
        started = time.perf_counter()
        try:
            self.execute(context)
        except AdaptmlError as error:
            context.emit(StageEvent("failed", self.label(), error_class=type(error).__name__, message=str(error)))
            raise
        except Exception as error:
            detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
            message = f"{self.label()} failed: {type(error).__name__}: {detail}"
            context.emit(StageEvent("failed", self.label(), error_class="AdaptmlError", message=message))
            raise
        context.emit(StageEvent("done", self.label(), seconds=time.perf_counter() - started))

    def execute(self, context: RunContext) -> None:
        raise NotImplementedError


@Stage.event_handler(luigi.Event.DEPENDENCY_PRESENT)
def _report_finished_earlier(task: Stage) -> None:
    task.context.emit(StageEvent("cached", task.label()))


def load_problem(context: RunContext) -> tuple[Schema, TaskInfo]:
    problem = context.read_json("clean/problem.json")
    return Schema.from_dict(problem["schema"]), TaskInfo.from_dict(problem["task"])


def load_frame(context: RunContext, path: str, schema: Schema, info: TaskInfo) -> pd.DataFrame:
    frame = context.read_frame(path)
    frame[schema.target] = target_labels(frame[schema.target], info.task)
    return frame
