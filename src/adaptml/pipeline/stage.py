"""The base of every pipeline task: workspace targets that load and dump their artifact, and progress events.

A task reads only through ``self.input()`` (the outputs of the tasks it requires) and writes only its own
``self.output()``, so what a task reads is always something its requirements declared.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Generic, TypeVar

import luigi
import pandas as pd

from adaptml.errors import AdaptmlError
from adaptml.pipeline.context import RunContext, StageEvent, context_for
from adaptml.pipeline.workspace import Artifact
from adaptml.schema import Schema
from adaptml.training import TaskInfo, target_labels

__all__ = ["Stage", "Targets", "WorkspaceTarget", "read_frame", "read_problem"]

T = TypeVar("T")


class WorkspaceTarget(luigi.Target, Generic[T]):
    """One artifact of the run workspace; it exists once its single PUT has completed."""

    def __init__(self, run_id: str, artifact: Artifact[T]) -> None:
        self.run_id = run_id
        self.artifact = artifact

    @property
    def path(self) -> str:
        return self.artifact.path

    def exists(self) -> bool:
        return context_for(self.run_id).workspace.exists(self.artifact)

    def load(self) -> T:
        return context_for(self.run_id).workspace.load(self.artifact)

    def load_bytes(self) -> bytes:
        """The stored bytes as they are (to publish them unchanged)."""
        return context_for(self.run_id).workspace.read_bytes(self.artifact)

    def dump(self, value: T) -> int:
        """Store the value; returns the stored size in bytes."""
        return context_for(self.run_id).workspace.dump(self.artifact, value)


Targets = dict[str, WorkspaceTarget[Any]]


class Stage(luigi.Task):
    """Base of every task: reports start, finish and failure (with the original one-line error) to the runner."""

    run_id = luigi.Parameter()
    stage: ClassVar[str] = ""

    @property
    def context(self) -> RunContext:
        return context_for(str(self.run_id))

    def label(self) -> str:
        return self.stage

    def target(self, artifact: Artifact[T]) -> WorkspaceTarget[T]:
        """A target for an artifact the layout says this stage writes."""
        if artifact.writer != self.stage:
            raise AdaptmlError(f"{artifact.path} is written by {artifact.writer}, not by {self.stage}")
        return WorkspaceTarget(str(self.run_id), artifact)

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


def read_problem(clean: dict[str, Any]) -> tuple[Schema, TaskInfo]:
    """The input schema and the task, from Clean's outputs."""
    problem = clean["problem"].load()
    return Schema.from_dict(problem["schema"]), TaskInfo.from_dict(problem["task"])


def read_frame(target: WorkspaceTarget[pd.DataFrame], schema: Schema, info: TaskInfo) -> pd.DataFrame:
    """A stored table with its target column as the task's labels again."""
    frame = target.load()
    frame[schema.target] = target_labels(frame[schema.target], info.task)
    return frame
