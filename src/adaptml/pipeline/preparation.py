"""Data preparation tasks: ingest the dataset, clean it, explore it, split it, select features on the train split."""

from __future__ import annotations

from adaptml.errors import DataError
from adaptml.pipeline.context import RunContext
from adaptml.pipeline.stage import Stage, WorkspaceTarget, load_frame, load_problem
from adaptml.registry import sha256_hex
from adaptml.schema import infer_schema
from adaptml.storage import read_table
from adaptml.training import clean, plan_features, resolve_task, select_features, split, target_labels

__all__ = ["Clean", "Explore", "Ingest", "Select", "Split"]


def _source_name(uri: str) -> str:
    name = uri.rsplit("/", 1)[-1]
    return "data" + (name[name.index(".") :] if "." in name else "")


class Ingest(Stage):
    """Copy the dataset into the workspace, checking it is the data the run id was computed from."""

    stage = "ingest"

    def output(self) -> dict[str, WorkspaceTarget]:
        name = _source_name(self.context.config.data.uri)
        return {"data": self.target(f"ingest/{name}"), "info": self.target("ingest/info.json")}

    def execute(self, context: RunContext) -> None:
        uri = context.config.data.uri
        data = context.source_bytes if context.source_bytes is not None else context.client().get_bytes(uri)
        if sha256_hex(data) != context.data_sha256:
            raise DataError(f"{uri} changed since this run started; run adaptml train again")
        frame = read_table(data, name=uri, source=uri)
        context.write_bytes(self.output()["data"].path, data)
        info = {"uri": uri, "sha256": context.data_sha256, "bytes": len(data), "rows": len(frame)}
        context.write_json("ingest/info.json", {**info, "columns": [str(c) for c in frame.columns]})


class Clean(Stage):
    """Type, deduplicate and prune the raw table; detect the task; infer the input schema."""

    stage = "clean"

    def requires(self) -> Ingest:
        return Ingest(run_id=self.run_id)

    def output(self) -> dict[str, WorkspaceTarget]:
        return {
            "data": self.target("clean/data.parquet"),
            "report": self.target("reports/cleaning.json"),
            "problem": self.target("clean/problem.json"),
        }

    def execute(self, context: RunContext) -> None:
        cfg = context.config
        raw = read_table(context.read_bytes(self.input()["data"].path), name=cfg.data.uri, source=cfg.data.uri)
        keep = (cfg.split.time_column,) if cfg.split.time_column else ()
        typed, report = clean(raw, cfg.data.target, cfg.data.drop, keep=keep, deduplicate=cfg.data.deduplicate)
        info = resolve_task(typed[cfg.data.target], configured_task=cfg.data.task, configured_metric=cfg.metric)
        typed[cfg.data.target] = target_labels(typed[cfg.data.target], info.task)
        schema = infer_schema(typed, target=cfg.data.target, task=info.task, classes=info.classes)
        context.write_frame("clean/data.parquet", typed)
        context.write_json("reports/cleaning.json", report.to_dict())
        context.write_json("clean/problem.json", {"schema": schema.to_dict(), "task": info.to_dict()})


class Explore(Stage):
    """The EDA report, plots, alerts and leakage suspects of the cleaned data."""

    stage = "explore"

    def requires(self) -> Clean:
        return Clean(run_id=self.run_id)

    def output(self) -> WorkspaceTarget:
        return self.target("eda/summary.json")

    def execute(self, context: RunContext) -> None:
        from adaptml.eda import explore

        schema, info = load_problem(context)
        frame = load_frame(context, "clean/data.parquet", schema, info)
        title = f"{context.config.project}: {schema.target}"
        result = explore(frame, target=schema.target, task=info.task, title=title, seed=context.config.split.seed)
        for path, data in sorted(result.files.items()):
            context.write_bytes(f"eda/files/{path}", data)
        summary = {
            "files": sorted(result.files),
            "alerts": [{"kind": a.kind, "column": a.column, "message": a.message} for a in result.alerts],
            "leakage": [{"columns": list(s.columns), "evidence": s.evidence, "score": s.score} for s in result.leakage],
        }
        context.write_json("eda/summary.json", summary)


class Split(Stage):
    """Hold out the test split; nothing fitted ever reads it before Evaluate."""

    stage = "split"

    def requires(self) -> Clean:
        return Clean(run_id=self.run_id)

    def output(self) -> dict[str, WorkspaceTarget]:
        return {"train": self.target("split/train.parquet"), "test": self.target("split/test.parquet")}

    def execute(self, context: RunContext) -> None:
        schema, info = load_problem(context)
        frame = load_frame(context, "clean/data.parquet", schema, info)
        parts = split(frame, target=schema.target, config=context.config.split, info=info)
        context.write_frame("split/test.parquet", parts.test)
        context.write_frame("split/train.parquet", parts.train)


class Select(Stage):
    """Engineer the base features and select among them, on the training split only."""

    stage = "select"

    def requires(self) -> Split:
        return Split(run_id=self.run_id)

    def output(self) -> WorkspaceTarget:
        return self.target("reports/selection.json")

    def execute(self, context: RunContext) -> None:
        schema, info = load_problem(context)
        train = load_frame(context, "split/train.parquet", schema, info)
        plan = plan_features(schema, train)
        seed = context.config.split.seed
        report = select_features(
            train, target=schema.target, plan=plan, info=info, seed=seed, n_jobs=context.threads_per_task
        )
        context.write_json("reports/selection.json", report.to_dict())
