"""Refit tasks: after the test split has ranked the models, refit each on every row (train + test).

Each model is rebuilt with the hyperparameters it was chosen with (an early-stopped iteration count scaled by the
rows ratio) and fitted on the cleaned rows; the ensemble blends its members' refits with the weights it chose out of
fold. Evaluate decided once, within the time budget, whether the run refits at all, so every published model of a
version is fitted on the same rows. The leaderboard keeps the honest held-out scores of the training-split fits.
"""

from __future__ import annotations

import time
from typing import Any

import luigi
import pandas as pd

import adaptml.pipeline.workspace as layout
from adaptml.pipeline.context import RunContext
from adaptml.pipeline.modelling import Ensemble, Evaluate, Train, plan_of
from adaptml.pipeline.plan import refit_label
from adaptml.pipeline.preparation import Clean, Select, Split
from adaptml.pipeline.stage import Stage, Targets, read_frame, read_problem
from adaptml.training import build_ensemble
from adaptml.training.fitting import refit_model
from adaptml.training.zoo import ENSEMBLE

__all__ = ["Refit", "refit_files"]


refit_files = layout.refit_files


class Refit(Stage):
    """One model (or the ensemble) refit on every row, or a record of why it was not."""

    stage = "refit"
    model = luigi.Parameter()

    def label(self) -> str:
        return refit_label(str(self.model))

    def requires(self) -> dict[str, Any]:
        run, name = self.run_id, str(self.model)
        needs: dict[str, Any] = {
            "clean": Clean(run_id=run),
            "split": Split(run_id=run),
            "evaluate": Evaluate(run_id=run),
        }
        if name == ENSEMBLE:
            members = {m: Refit(run_id=run, model=m) for m in self.context.plan.members}
            return {**needs, "model": Ensemble(run_id=run), "members": members}
        return {**needs, "model": Train(run_id=run, model=name), "select": Select(run_id=run)}

    def output(self) -> Targets:
        return {key: self.target(artifact) for key, artifact in refit_files(str(self.model)).items()}

    def execute(self, context: RunContext) -> None:
        inputs, out = self.input(), self.output()
        decision = inputs["evaluate"]["refit"].load()
        facts = inputs["model"]["facts"].load()
        kept = {"refit": False, "fit_rows": decision["train_rows"]}
        only = decision.get("only") or []  # when not all models are refit, the required ones that are
        if "skipped" in facts or not decision["refit"] or (only and str(self.model) not in only):
            out["pickle"].dump(None)
            out["facts"].dump({**kept, "reason": facts.get("skipped") or decision["reason"]})
            return
        started = time.perf_counter()
        schema, info = read_problem(inputs["clean"])
        rows = pd.concat(
            [read_frame(inputs["split"][part], schema, info) for part in ("train", "test")], ignore_index=True
        )
        if str(self.model) == ENSEMBLE:
            pipelines = {name: inputs["members"][name]["pickle"].load() for name in facts["weights"]}
            model = build_ensemble(pipelines, facts["weights"], schema, info, rows)
        else:
            cfg = context.config
            model = refit_model(
                str(self.model),
                rows,
                schema=schema,
                plan=plan_of(inputs["select"]["selection"].load()),
                info=info,
                seed=cfg.split.seed,
                frozen=facts["refit_params"],
                ratio=len(rows) / max(1, int(facts["rows"])),
                n_jobs=context.threads_per_task,
            )
        size = out["pickle"].dump(model)
        seconds = time.perf_counter() - started
        out["facts"].dump({"refit": True, "fit_rows": len(rows), "seconds": seconds, "pickle_bytes": size})
