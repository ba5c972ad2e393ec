"""Data preparation tasks: ingest the dataset, clean it, explore it, split it, select features on the train split."""

from __future__ import annotations

import adaptml.pipeline.workspace as layout
from adaptml.errors import DataError
from adaptml.pipeline.context import RunContext
from adaptml.pipeline.stage import Stage, Targets, read_frame, read_problem
from adaptml.registry import sha256_hex
from adaptml.schema import infer_schema
from adaptml.storage import read_table
from adaptml.training import (
    SelectionReport,
    clean,
    plan_features,
    resolve_task,
    select_features,
    split,
    target_labels,
)
from adaptml.training.budget import Budget

__all__ = ["EDA_SHARE", "SELECTION_OFF", "Clean", "Explore", "Ingest", "Select", "Split", "eda_allowance"]

EDA_SHARE = 0.12  # of the time budget: the EDA's own allowance; the training stages get what the run has left
MIN_EDA_SECONDS = 2.0

SELECTION_OFF = "none: selection.enabled is off (every engineered feature is kept)"


class Ingest(Stage):
    """Copy the dataset into the workspace, checking it is the data the run id was computed from."""

    stage = "ingest"

    def output(self) -> Targets:
        data = layout.ingest_data(self.context.config.data.uri)
        return {"data": self.target(data), "info": self.target(layout.INGEST_INFO)}

    def execute(self, context: RunContext) -> None:
        uri = context.config.data.uri
        data = context.source_bytes if context.source_bytes is not None else context.client().get_bytes(uri)
        if sha256_hex(data) != context.data_sha256:
            raise DataError(f"{uri} changed since this run started; run adaptml train again")
        frame = read_table(data, name=uri, source=uri)
        self.output()["data"].dump(data)
        info = {"uri": uri, "sha256": context.data_sha256, "bytes": len(data), "rows": len(frame)}
        self.output()["info"].dump({**info, "columns": [str(c) for c in frame.columns]})


class Clean(Stage):
    """Type, deduplicate and prune the raw table; detect the task; infer the input schema."""

    stage = "clean"

    def requires(self) -> dict[str, Ingest]:
        return {"ingest": Ingest(run_id=self.run_id)}

    def output(self) -> Targets:
        return {
            "data": self.target(layout.CLEAN_DATA),
            "report": self.target(layout.CLEANING_REPORT),
            "problem": self.target(layout.PROBLEM),
        }

    def execute(self, context: RunContext) -> None:
        cfg = context.config
        raw = read_table(self.input()["ingest"]["data"].load(), name=cfg.data.uri, source=cfg.data.uri)
        keep = (cfg.split.time_column,) if cfg.split.time_column else ()
        typed, report = clean(raw, cfg.data.target, cfg.data.drop, keep=keep, deduplicate=cfg.data.deduplicate)
        info = resolve_task(typed[cfg.data.target], configured_task=cfg.data.task, configured_metric=cfg.metric)
        typed[cfg.data.target] = target_labels(typed[cfg.data.target], info.task)
        schema = infer_schema(typed, target=cfg.data.target, task=info.task, classes=info.classes)
        # serving reads the spellings cleaning read as missing the same way, per column
        schema = schema.with_missing_markers(report.missing_markers)
        out = self.output()
        out["data"].dump(typed)
        out["report"].dump(report.to_dict())
        out["problem"].dump({"schema": schema.to_dict(), "task": info.to_dict()})


def eda_allowance(budget: Budget, now: float | None = None) -> float | None:
    """Seconds the EDA may spend on optional work (plots): EDA_SHARE of the budget, at most what is left of it.

    None when the run is unbounded. The statistics, alerts and leak checks run whatever the allowance (on a sample).
    """
    if not budget.bounded:
        return None
    return min(max(MIN_EDA_SECONDS, EDA_SHARE * budget.seconds), max(0.0, budget.remaining(now)))


class Explore(Stage):
    """The EDA report, plots, alerts and leakage suspects of the cleaned data.

    Only Publish reads its outputs, but it runs right after Clean (its priority): its time is spent before the
    models' share of the budget is planned, so the training stages get what remains rather than the EDA overrunning.
    """

    stage = "explore"
    priority = 10

    def requires(self) -> dict[str, Clean]:
        return {"clean": Clean(run_id=self.run_id)}

    def output(self) -> Targets:
        return {"files": self.target(layout.EDA_FILES), "summary": self.target(layout.EDA_SUMMARY)}

    def execute(self, context: RunContext) -> None:
        from adaptml.eda import explore

        cleaned = self.input()["clean"]
        schema, info = read_problem(cleaned)
        frame = read_frame(cleaned["data"], schema, info)
        title = f"{context.config.project}: {schema.target}"
        result = explore(
            frame,
            target=schema.target,
            task=info.task,
            title=title,
            seed=context.config.split.seed,
            cleaning=cleaned["report"].load(),
            seconds=eda_allowance(context.plan.budget),
        )
        self.output()["files"].dump(dict(result.files))
        summary = {
            "files": sorted(result.files),
            "plots_left_out": result.summary.get("plots_left_out", []),
            "alerts": [{"kind": a.kind, "column": a.column, "message": a.message} for a in result.alerts],
            "leakage": [{"columns": list(s.columns), "evidence": s.evidence, "score": s.score} for s in result.leakage],
        }
        self.output()["summary"].dump(summary)


class Split(Stage):
    """Hold out the test split; nothing fitted ever reads it before Evaluate."""

    stage = "split"

    def requires(self) -> dict[str, Clean]:
        return {"clean": Clean(run_id=self.run_id)}

    def output(self) -> Targets:
        return {"train": self.target(layout.TRAIN_SPLIT), "test": self.target(layout.TEST_SPLIT)}

    def execute(self, context: RunContext) -> None:
        cleaned = self.input()["clean"]
        schema, info = read_problem(cleaned)
        frame = read_frame(cleaned["data"], schema, info)
        parts = split(frame, target=schema.target, config=context.config.split, info=info)
        self.output()["test"].dump(parts.test)
        self.output()["train"].dump(parts.train)


class Select(Stage):
    """Engineer the base features and (when ``selection.enabled``) select among them, on the training split only."""

    stage = "select"

    def requires(self) -> dict[str, Stage]:
        return {"clean": Clean(run_id=self.run_id), "split": Split(run_id=self.run_id)}

    def output(self) -> Targets:
        return {"selection": self.target(layout.SELECTION)}

    def execute(self, context: RunContext) -> None:
        inputs = self.input()
        schema, info = read_problem(inputs["clean"])
        train = read_frame(inputs["split"]["train"], schema, info)
        plan = plan_features(schema, train)
        seed = context.config.split.seed
        if not context.config.selection.enabled:
            report = SelectionReport(SELECTION_OFF, tuple(plan.features), (), plan=plan.to_dict())
        else:
            report = select_features(
                train, target=schema.target, plan=plan, info=info, seed=seed, n_jobs=context.threads_per_task
            )
        self.output()["selection"].dump(report.to_dict())
