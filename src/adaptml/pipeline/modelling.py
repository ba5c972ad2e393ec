"""Modelling tasks: train each model, build the ensemble, evaluate on the test split, publish the version."""

from __future__ import annotations

import pickle
import time
from typing import Any

import luigi
import pandas as pd

from adaptml.pipeline.context import RunContext
from adaptml.pipeline.preparation import Explore, Select
from adaptml.pipeline.stage import PUBLISHED, Stage, WorkspaceTarget, load_frame, load_problem, model_names, real_models
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
from adaptml.training.ensemble import fold_scores
from adaptml.training.features import FeaturePlan
from adaptml.training.fitting import cv_splits
from adaptml.training.packaging import leaderboard_records
from adaptml.training.zoo import ENSEMBLE

__all__ = ["Ensemble", "Evaluate", "Publish", "Train"]


class Train(Stage):
    """Fit one model of the zoo on the training split: tuning, k-fold CV, final fit; pickle the whole pipeline."""

    stage = "train"
    model = luigi.Parameter()

    def label(self) -> str:
        return f"train {self.model}"

    def requires(self) -> Select:
        return Select(run_id=self.run_id)

    def output(self) -> dict[str, WorkspaceTarget]:
        base = f"models/{self.model}"
        return {n: self.target(f"{base}.{n}") for n in ("pkl", "oof.npy", "json")}

    def execute(self, context: RunContext) -> None:
        schema, info = load_problem(context)
        train = load_frame(context, "split/train.parquet", schema, info)
        selection = SelectionReport.from_dict(context.read_json("reports/selection.json"))
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
        data = pickle.dumps(result.pipeline, protocol=5)
        base = f"models/{self.model}"
        context.write_array(f"{base}.oof.npy", result.oof)
        context.write_bytes(f"{base}.pkl", data)
        facts = {"cv_scores": list(result.cv_scores), "fit_seconds": result.fit_seconds, "params": result.params}
        context.write_json(f"{base}.json", {**facts, "tuning": result.tuning, "pickle_bytes": len(data)})


def _plan_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}


class Ensemble(Stage):
    """Weighted average of the real models, weights fitted on their out-of-fold predictions on the training split."""

    stage = "ensemble"

    def requires(self) -> list[Train]:
        return [Train(run_id=self.run_id, model=m) for m in real_models(self.context.config.models)]

    def output(self) -> dict[str, WorkspaceTarget]:
        return {n: self.target(f"models/{ENSEMBLE}.{n}") for n in ("pkl", "json")}

    def execute(self, context: RunContext) -> None:
        schema, info = load_problem(context)
        train = load_frame(context, "split/train.parquet", schema, info)
        names = real_models(context.config.models)
        started = time.perf_counter()
        oof = {name: context.read_array(f"models/{name}.oof.npy") for name in names}
        y = train[schema.target]
        weights = greedy_weights(oof, y, info)
        split, folds = context.config.split, context.config.tuning.cv_folds
        splits = cv_splits(y, info, folds=folds, seed=split.seed, shuffle=split.strategy != "time")
        cv_scores = fold_scores(oof, weights, y, info, splits)
        pipelines = {name: pickle.loads(context.read_bytes(f"models/{name}.pkl")) for name in weights}
        model = build_ensemble(pipelines, weights, schema, info, train)
        data = pickle.dumps(model, protocol=5)
        member_seconds = sum(context.read_json(f"models/{name}.json")["fit_seconds"] for name in weights)
        context.write_bytes(f"models/{ENSEMBLE}.pkl", data)
        facts = {"weights": weights, "fit_seconds": member_seconds + time.perf_counter() - started}
        context.write_json(f"models/{ENSEMBLE}.json", {**facts, "cv_scores": cv_scores, "pickle_bytes": len(data)})


class Evaluate(Stage):
    """Score every model on the held-out test split and rank them."""

    stage = "evaluate"

    def requires(self) -> list[luigi.Task]:
        models = self.context.config.models
        tasks: list[luigi.Task] = [Train(run_id=self.run_id, model=m) for m in model_names(models)]
        if len(real_models(models)) >= 2:
            tasks.append(Ensemble(run_id=self.run_id))
        return tasks

    def output(self) -> WorkspaceTarget:
        return self.target("evaluate/leaderboard.json")

    def execute(self, context: RunContext) -> None:
        schema, info = load_problem(context)
        test = load_frame(context, "split/test.parquet", schema, info)
        names = model_names(context.config.models)
        if len(real_models(context.config.models)) >= 2:
            names.append(ENSEMBLE)
        rows = []
        for name in names:
            facts = context.read_json(f"models/{name}.json")
            model = pickle.loads(context.read_bytes(f"models/{name}.pkl"))
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
        context.write_json("evaluate/leaderboard.json", leaderboard_records(leaderboard(rows, info)))


class Publish(Stage):
    """Publish the version to the registry (files, manifest, then LATEST) and mark the run as published."""

    stage = "publish"

    def requires(self) -> dict[str, luigi.Task]:
        return {"evaluate": Evaluate(run_id=self.run_id), "explore": Explore(run_id=self.run_id)}

    def output(self) -> WorkspaceTarget:
        return self.target(PUBLISHED)

    def execute(self, context: RunContext) -> None:
        cfg = context.config
        schema, info = load_problem(context)
        board = pd.DataFrame(context.read_json("evaluate/leaderboard.json"))
        eda = context.read_json("eda/summary.json")
        models = {str(name): context.read_bytes(f"models/{name}.pkl") for name in board["model"]}
        reports = {
            "cleaning": context.read_json("reports/cleaning.json"),
            "selection": context.read_json("reports/selection.json"),
            "eda": {"alerts": eda["alerts"], "leakage": eda["leakage"]},
        }
        eda_files = {path: context.read_bytes(f"eda/files/{path}") for path in eda["files"]}
        files = version_files(board=board, schema=schema, models=models, eda_files=eda_files, reports=reports)
        extra = {"leakage": eda["leakage"], "selection": {k: reports["selection"][k] for k in ("kept", "dropped")}}
        metadata = version_metadata(
            config=cfg, board=board, schema=schema, info=info, data_sha256=context.data_sha256, run=context.run_id
        )
        registry = Registry(cfg.registry, cfg.project, storage=context.client(), signing_key=signing_key_from_env())
        version = new_version_id(context.run_id)
        latest = registry.publish(version, files, {**metadata, **extra})
        marker = {"version": version, "manifest_sha256": latest.manifest_sha256, "report": "eda/report.html"}
        context.write_json(PUBLISHED, marker)
