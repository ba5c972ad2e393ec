"""Modelling tasks: train each model, build the ensemble, evaluate on the test split, publish the version."""

from __future__ import annotations

import time
from typing import Any

import luigi
import pandas as pd

from adaptml.pipeline import workspace as layout
from adaptml.pipeline.context import RunContext
from adaptml.pipeline.plan import RunPlan, train_label
from adaptml.pipeline.preparation import Clean, Explore, Select, Split
from adaptml.pipeline.stage import Stage, Targets, read_frame, read_problem
from adaptml.registry import Registry, new_version_id, signing_key_from_env
from adaptml.training import (
    SelectionReport,
    build_ensemble,
    evaluate_model,
    fit_model,
    greedy_weights,
    leaderboard,
    version_files,
    version_metadata,
)
from adaptml.training.diagnostics import diagnose
from adaptml.training.ensemble import fold_scores
from adaptml.training.evaluation import model_output
from adaptml.training.features import FeaturePlan
from adaptml.training.fitting import cv_splits
from adaptml.training.packaging import leaderboard_records
from adaptml.training.task import TaskInfo
from adaptml.training.zoo import ENSEMBLE

__all__ = ["Ensemble", "Evaluate", "Publish", "Train"]


class Train(Stage):
    """Fit one model of the zoo on the training split: tuning, k-fold CV, final fit; pickle the whole pipeline."""

    stage = "train"
    model = luigi.Parameter()

    def label(self) -> str:
        return train_label(str(self.model))

    def requires(self) -> dict[str, Stage]:
        run = self.run_id
        return {"clean": Clean(run_id=run), "split": Split(run_id=run), "select": Select(run_id=run)}

    def output(self) -> Targets:
        return {key: self.target(artifact) for key, artifact in layout.model_files(str(self.model)).items()}

    def execute(self, context: RunContext) -> None:
        inputs = self.input()
        schema, info = read_problem(inputs["clean"])
        train = read_frame(inputs["split"]["train"], schema, info)
        selection = SelectionReport.from_dict(inputs["select"]["selection"].load())
        plan = FeaturePlan(**_plan_fields(selection.plan)).kept(selection.kept)
        cfg = context.config
        result = fit_model(
            str(self.model),
            train,
            schema=schema,
            plan=plan,
            info=info,
            seed=cfg.split.seed,
            cv_folds=cfg.tuning.cv_folds,
            n_jobs=context.threads_per_task,
            budget_seconds=cfg.tuning.budget_seconds,
            shuffle=cfg.split.strategy != "time",
        )
        out = self.output()
        out["oof"].dump(result.oof)
        size = out["pickle"].dump(result.pipeline)
        facts = {"cv_scores": list(result.cv_scores), "fit_seconds": result.fit_seconds, "params": result.params}
        out["facts"].dump({**facts, "tuning": result.tuning, "pickle_bytes": size})


def _plan_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}


class Ensemble(Stage):
    """Weighted average of the real models, weights fitted on their out-of-fold predictions on the training split."""

    stage = "ensemble"

    def requires(self) -> dict[str, Any]:
        run = self.run_id
        members = {name: Train(run_id=run, model=name) for name in self.context.plan.members}
        return {"clean": Clean(run_id=run), "split": Split(run_id=run), "models": members}

    def output(self) -> Targets:
        return {key: self.target(artifact) for key, artifact in layout.ensemble_files(ENSEMBLE).items()}

    def execute(self, context: RunContext) -> None:
        inputs = self.input()
        schema, info = read_problem(inputs["clean"])
        train = read_frame(inputs["split"]["train"], schema, info)
        members = inputs["models"]
        started = time.perf_counter()
        oof = {name: members[name]["oof"].load() for name in context.plan.members}
        y = train[schema.target]
        weights = greedy_weights(oof, y, info)
        split, folds = context.config.split, context.config.tuning.cv_folds
        splits = cv_splits(y, info, folds=folds, seed=split.seed, shuffle=split.strategy != "time")
        cv_scores = fold_scores(oof, weights, y, info, splits)
        pipelines = {name: members[name]["pickle"].load() for name in weights}
        model = build_ensemble(pipelines, weights, schema, info, train)
        member_seconds = sum(members[name]["facts"].load()["fit_seconds"] for name in weights)
        size = self.output()["pickle"].dump(model)
        facts = {"weights": weights, "fit_seconds": member_seconds + time.perf_counter() - started}
        self.output()["facts"].dump({**facts, "cv_scores": cv_scores, "pickle_bytes": size})


def _evaluated(run_id: str, plan: RunPlan) -> dict[str, Stage]:
    """The task that writes each model on the leaderboard, by model name."""
    tasks: dict[str, Stage] = {name: Train(run_id=run_id, model=name) for name in plan.models}
    if plan.has_ensemble:
        tasks[ENSEMBLE] = Ensemble(run_id=run_id)
    return tasks


class Evaluate(Stage):
    """Score every model on the held-out test split and rank them."""

    stage = "evaluate"

    def requires(self) -> dict[str, Any]:
        run = self.run_id
        models = _evaluated(run, self.context.plan)
        return {"clean": Clean(run_id=run), "split": Split(run_id=run), "select": Select(run_id=run), "models": models}

    def output(self) -> Targets:
        return {"leaderboard": self.target(layout.LEADERBOARD), "diagnostics": self.target(layout.DIAGNOSTICS)}

    def execute(self, context: RunContext) -> None:
        inputs = self.input()
        schema, info = read_problem(inputs["clean"])
        test = read_frame(inputs["split"]["test"], schema, info)
        rows, outputs = [], {}
        for name in context.plan.evaluated:
            files = inputs["models"][name]
            facts = files["facts"].load()
            model = files["pickle"].load()
            outputs[name] = model_output(model, test.drop(columns=[schema.target]), info)
            row = evaluate_model(
                name,
                model,
                test,
                info,
                target=schema.target,
                cv_scores=facts["cv_scores"],
                fit_seconds=facts["fit_seconds"],
                pickle_bytes=facts["pickle_bytes"],
            )
            rows.append(row)
        records = leaderboard_records(leaderboard(rows, info))
        self.output()["leaderboard"].dump(records)
        diagnostics = _diagnostics(inputs, test[schema.target], outputs, records, info, context)
        self.output()["diagnostics"].dump(diagnostics)


class Publish(Stage):
    """Publish the version to the registry (files, manifest, then LATEST) and record the run's outcome.

    The record (version, leaderboard, task, metric, leakage suspects, report address) is all the runner reports, so
    it never re-reads other stages' files; its existence marks the run as published.
    """

    stage = "publish"

    def requires(self) -> dict[str, Any]:
        run = self.run_id
        return {
            "clean": Clean(run_id=run),
            "explore": Explore(run_id=run),
            "select": Select(run_id=run),
            "evaluate": Evaluate(run_id=run),
            "models": _evaluated(run, self.context.plan),
        }

    def output(self) -> Targets:
        return {"published": self.target(layout.PUBLISHED)}

    def execute(self, context: RunContext) -> None:
        inputs = self.input()
        schema, info = read_problem(inputs["clean"])
        records = inputs["evaluate"]["leaderboard"].load()
        board = pd.DataFrame(records)
        eda = inputs["explore"]["summary"].load()
        models = {str(name): inputs["models"][str(name)]["pickle"].load_bytes() for name in board["model"]}
        reports = {
            "cleaning": inputs["clean"]["report"].load(),
            "selection": inputs["select"]["selection"].load(),
            "eda": {"alerts": eda["alerts"], "leakage": eda["leakage"]},
        }
        eda_files = inputs["explore"]["files"].load()
        files = version_files(board=board, schema=schema, models=models, eda_files=eda_files, reports=reports)
        files["diagnostics.json"] = inputs["evaluate"]["diagnostics"].load_bytes()
        extra = {"leakage": eda["leakage"], "selection": {k: reports["selection"][k] for k in ("kept", "dropped")}}
        cfg = context.config
        metadata = version_metadata(
            config=cfg, board=board, schema=schema, info=info, data_sha256=context.data_sha256, run=context.run_id
        )
        registry = Registry(cfg.registry, cfg.project, storage=context.client(), signing_key=signing_key_from_env())
        version = new_version_id(context.run_id)
        latest = registry.publish(version, files, {**metadata, **extra})
        report = registry.version_uri(version).join("eda", "report.html")
        outcome = {"version": version, "manifest_sha256": latest.manifest_sha256, "report_uri": str(report)}
        task = {"task": info.task, "metric": info.metric, "higher_is_better": info.higher_is_better}
        self.output()["published"].dump({**outcome, **task, "leaderboard": records, "leakage": eda["leakage"]})


def _diagnostics(
    inputs: dict[str, Any],
    truth: pd.Series,
    outputs: dict[str, Any],
    records: list[dict[str, Any]],
    info: TaskInfo,
    context: RunContext,
) -> dict[str, Any]:
    """The held-out figures of every evaluated model (``diagnostics.json``), with selection's importance and the
    ensemble's weights."""
    models = inputs["models"]
    weights = models[ENSEMBLE]["facts"].load().get("weights") if ENSEMBLE in models else None
    selection = inputs["select"]["selection"].load()
    seed = context.config.split.seed
    return diagnose(truth, outputs, info, board=records, selection=selection, ensemble_weights=weights, seed=seed)
