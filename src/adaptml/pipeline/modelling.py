"""Modelling tasks: train each model (in priority order, within the time budget), build the ensemble, evaluate on the
test split and decide whether the refit on every row fits in what remains of the budget.

A model the budget cannot fit still completes its task: it writes its facts with ``skipped`` (the reason), an empty
pickle and no out-of-fold predictions, so the graph stays complete and a resumed run does not retry it.
"""

from __future__ import annotations

import time
from typing import Any

import luigi
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

import adaptml.pipeline.workspace as layout
from adaptml.pipeline.context import RunContext
from adaptml.pipeline.plan import BASELINE, RunPlan, train_label
from adaptml.pipeline.preparation import Clean, Select, Split
from adaptml.pipeline.stage import Stage, Targets, read_frame, read_problem
from adaptml.training import SelectionReport, build_ensemble, evaluate_model, fit_model, greedy_weights, leaderboard
from adaptml.training.budget import Measured, TrainDecision, plan_refit, plan_training, planned_folds, time_scoring
from adaptml.training.diagnostics import diagnose
from adaptml.training.ensemble import fold_scores
from adaptml.training.evaluation import model_output, score
from adaptml.training.features import FeaturePlan
from adaptml.training.fitting import cv_splits, threads_for
from adaptml.training.importance import TIME_LIMIT as IMPORTANCE_SECONDS
from adaptml.training.importance import held_out_importance
from adaptml.training.packaging import leaderboard_records
from adaptml.training.task import TaskInfo
from adaptml.training.zoo import ENSEMBLE, FLOOR, spec

__all__ = ["REFIT_DECISION", "Ensemble", "Evaluate", "Train", "evaluated_tasks", "plan_of"]

REFIT_DECISION = layout.REFIT_DECISION
SCORING_ROWS = 2000  # rows a closing score is timed on: the diagnostics' bootstrap draws at most this many


def plan_of(selection: dict[str, Any]) -> FeaturePlan:
    """The feature plan Select stored, restricted to the features it kept."""
    report = SelectionReport.from_dict(selection)
    fields: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in report.plan.items()}
    return FeaturePlan(**fields).kept(report.kept)


def _skip(out: Targets, reason: str, **facts: Any) -> None:
    out["oof"].dump(np.zeros(0))
    out["pickle"].dump(None)
    out["facts"].dump({"skipped": reason, "finished_at": time.time(), **facts})


class Train(Stage):
    """Fit one model of the zoo on the training split: tuning, k-fold CV, final fit; pickle the whole pipeline.

    Models train one after another in the plan's order (each requires the ones before it), so each can be
    budgeted from what the earlier ones measured.
    """

    stage = "train"
    model = luigi.Parameter()

    def label(self) -> str:
        return train_label(str(self.model))

    def requires(self) -> dict[str, Any]:
        run = self.run_id
        earlier = {name: Train(run_id=run, model=name) for name in self.context.plan.before(str(self.model))}
        return {
            "clean": Clean(run_id=run),
            "split": Split(run_id=run),
            "select": Select(run_id=run),
            "earlier": earlier,
        }

    def output(self) -> Targets:
        return {key: self.target(artifact) for key, artifact in layout.model_files(str(self.model)).items()}

    def execute(self, context: RunContext) -> None:
        started = time.perf_counter()
        inputs, cfg, name = self.input(), context.config, str(self.model)
        decision = self._decide(context, {n: inputs["earlier"][n]["facts"].load() for n in inputs["earlier"]})
        if not decision.train:
            _skip(self.output(), decision.reason, estimate_seconds=decision.estimate)
            return
        schema, info = read_problem(inputs["clean"])
        train = read_frame(inputs["split"]["train"], schema, info)
        seconds_left = context.plan.budget.remaining() - context.plan.budget.closing_reserve()
        if decision.seconds is not None:  # a deadline-bound booster admitted with less than its estimate
            seconds_left = min(seconds_left, decision.seconds)
        result = fit_model(
            name,
            train,
            schema=schema,
            plan=plan_of(inputs["select"]["selection"].load()),
            info=info,
            seed=cfg.split.seed,
            cv_folds=cfg.tuning.cv_folds,
            n_jobs=context.threads_per_task,
            budget_seconds=decision.tuning_seconds,
            shuffle=cfg.split.strategy != "time",
            strategy=cfg.tuning.strategy,
            seconds_left=seconds_left,
        )
        out = self.output()
        out["oof"].dump(result.oof)
        size = out["pickle"].dump(result.pipeline)
        facts = {"cv_scores": list(result.cv_scores), "fit_seconds": result.fit_seconds, "params": result.params}
        facts.update(config=result.config, cv_folds=len(result.cv_scores))
        timing = {"train_seconds": time.perf_counter() - started, "tuning_seconds": result.tuning_seconds}
        refit = {"refit_params": result.frozen, "rows": len(train)}
        timing["scoring_seconds"] = _scoring_seconds(info, train[schema.target], result.oof)
        timing["finished_at"] = time.time()  # the next Train task measures the pipeline's time between tasks
        out["facts"].dump({**facts, "tuning": result.tuning, "pickle_bytes": size, **timing, **refit})

    def _decide(self, context: RunContext, earlier: dict[str, dict[str, Any]]) -> TrainDecision:
        """Train or skip this model, from what the models before it took (see ``adaptml.training.budget``)."""
        plan, cfg, name = context.plan, context.config, str(self.model)
        if name == BASELINE:
            return TrainDecision(True)
        rows = max((int(facts.get("rows", 0)) for facts in earlier.values()), default=0)
        folds = planned_folds(cfg.tuning.cv_folds, rows)
        ratio = 1.0 / (1.0 - cfg.split.test_size)
        trained = [  # as if it had cross-validated in every planned fold: the models to come will
            Measured(
                (facts["train_seconds"] - facts.get("tuning_seconds", 0.0))
                * (folds + 1)
                / (facts.get("cv_folds", folds) + 1),
                spec(other).cost,
                refit_seconds=ratio * float(facts.get("fit_seconds", 0.0)) if cfg.publish.refit else 0.0,
            )
            for other, facts in earlier.items()
            if other != BASELINE and "skipped" not in facts
        ]
        scoring = [float(f["scoring_seconds"]) for f in earlier.values() if "scoring_seconds" in f]
        # a resumed run's earlier models finished in an earlier process: their gap is not this pipeline's overhead
        finished = [f["finished_at"] for f in earlier.values() if f.get("finished_at", 0) >= plan.budget.started]
        return plan_training(
            plan.budget,
            cost=spec(name).cost,
            overhead=float(earlier[BASELINE]["train_seconds"]) if BASELINE in earlier else 0.0,
            trained=trained,
            later=[spec(other).cost for other in plan.after(name)],
            refit_share=ratio / (folds + 1) if cfg.publish.refit else 0.0,
            tuning_cap=cfg.tuning.cap_seconds(bounded=plan.budget.bounded),
            scoring_seconds=float(np.median(scoring)) if scoring else 0.0,
            task_seconds=max(0.0, time.time() - max(finished)) if finished else 0.0,
            stops_at_deadline=spec(name).stops_at_deadline,
        )


def _scoring_seconds(info: TaskInfo, y: pd.Series, oof: np.ndarray) -> float:
    """One primary-metric score of this model's out-of-fold output, timed: the closing stages compute it hundreds
    of times per model (``adaptml.training.budget.SCORES_PER_MODEL``)."""
    rows = min(len(y), SCORING_ROWS)
    truth, output = np.asarray(y)[:rows], oof[:rows]
    return time_scoring(lambda: score(info.metric, info, truth, output))


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
        members = inputs["models"]
        trained = [n for n in context.plan.members if "skipped" not in members[n]["facts"].load()]
        if len(trained) < 2:
            self.output()["pickle"].dump(None)
            self.output()["facts"].dump({"skipped": "fewer than two models were trained within the time budget"})
            return
        schema, info = read_problem(inputs["clean"])
        train = read_frame(inputs["split"]["train"], schema, info)
        started = time.perf_counter()
        oof = {name: members[name]["oof"].load() for name in trained}
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
        self.output()["facts"].dump({**facts, "cv_scores": cv_scores, "pickle_bytes": size, "rows": len(train)})


def evaluated_tasks(run_id: str, plan: RunPlan) -> dict[str, Stage]:
    """The task that writes each model that may reach the leaderboard, by model name."""
    tasks: dict[str, Stage] = {name: Train(run_id=run_id, model=name) for name in plan.models}
    if plan.has_ensemble:
        tasks[ENSEMBLE] = Ensemble(run_id=run_id)
    return tasks


class Evaluate(Stage):
    """Score every trained model on the held-out test split and rank them; decide whether the refit fits."""

    stage = "evaluate"

    def requires(self) -> dict[str, Any]:
        run = self.run_id
        models = evaluated_tasks(run, self.context.plan)
        return {"clean": Clean(run_id=run), "split": Split(run_id=run), "select": Select(run_id=run), "models": models}

    def output(self) -> Targets:
        return {
            "leaderboard": self.target(layout.LEADERBOARD),
            "refit": self.target(REFIT_DECISION),
            "diagnostics": self.target(layout.DIAGNOSTICS),
        }

    def execute(self, context: RunContext) -> None:
        inputs = self.input()
        schema, info = read_problem(inputs["clean"])
        test = read_frame(inputs["split"]["test"], schema, info)
        rows, fit_seconds, train_rows, outputs = [], {}, 0, {}
        for name in context.plan.evaluated:
            files = inputs["models"][name]
            facts = files["facts"].load()
            if "skipped" in facts:
                continue
            train_rows = int(facts.get("rows", train_rows))
            model = files["pickle"].load()
            with threadpool_limits(threads_for(context.threads_per_task, train_rows)):
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
                    output=outputs[name],
                )
            rows.append({**row, "config": facts.get("config", "weights" if name == ENSEMBLE else "")})
            if name != ENSEMBLE:  # the ensemble refits for free: its members' refits, blended
                fit_seconds[name] = float(facts["fit_seconds"])
        records = leaderboard_records(leaderboard(rows, info))
        self.output()["leaderboard"].dump(records)
        with threadpool_limits(threads_for(context.threads_per_task, train_rows)):
            figures = _diagnostics(inputs, test, schema.target, outputs, records, info, context)
        self.output()["diagnostics"].dump(figures)
        ratio = (train_rows + len(test)) / max(1, train_rows)
        best = next((str(row["model"]) for row in records if row["model"] != BASELINE), None)
        decision = plan_refit(
            context.plan.budget,
            enabled=context.config.publish.refit,
            fit_seconds=fit_seconds,
            ratio=ratio,
            required=(FLOOR,) if best == FLOOR else (),  # the published floor is always refit: one cheap fit
        )
        self.output()["refit"].dump({**decision.to_dict(), "train_rows": train_rows, "rows": train_rows + len(test)})


def _diagnostics(
    inputs: dict[str, Any],
    test: pd.DataFrame,
    target: str,
    outputs: dict[str, Any],
    records: list[dict[str, Any]],
    info: TaskInfo,
    context: RunContext,
) -> dict[str, Any]:
    """The held-out figures of every evaluated model (``diagnostics.json``), with the best model's importance on the
    test split (bounded: ``training.importance``), selection's report and the ensemble's weights."""
    models = inputs["models"]
    facts = models[ENSEMBLE]["facts"].load() if ENSEMBLE in outputs else {}
    selection = inputs["select"]["selection"].load()
    seed = context.config.split.seed
    ranked = [str(row["model"]) for row in records if str(row["model"]) in outputs and row["model"] != BASELINE]
    budget = context.plan.budget
    limit = min(IMPORTANCE_SECONDS, 0.15 * budget.seconds) if budget.bounded else IMPORTANCE_SECONDS
    importance = held_out_importance(
        ranked,
        lambda name: models[name]["pickle"].load(),
        test.drop(columns=[target]),
        test[target],
        info,
        seed=seed,
        time_limit=limit,
    )
    return diagnose(
        test[target],
        outputs,
        info,
        board=records,
        selection=selection,
        ensemble_weights=facts.get("weights"),
        importance=importance,
        seed=seed,
    )
