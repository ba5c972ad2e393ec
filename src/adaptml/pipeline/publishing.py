"""The Publish task: the version's files (models refit on every row when the budget allowed), the manifest, LATEST.

Besides the models, reports and EDA, a version carries ``gate.csv``: a seeded sample of raw training records with
the schema's input columns, which the serving app's compiled fast path is checked against before it is trusted.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

import adaptml.pipeline.workspace as layout
from adaptml.pipeline.context import RunContext
from adaptml.pipeline.modelling import Evaluate, evaluated_tasks
from adaptml.pipeline.preparation import Clean, Explore, Ingest, Select
from adaptml.pipeline.refitting import Refit
from adaptml.pipeline.stage import Stage, Targets, read_problem
from adaptml.registry import Registry, new_version_id
from adaptml.storage import read_table
from adaptml.training import version_files, version_metadata
from adaptml.training.packaging import GATE_FILE, gate_csv

__all__ = ["Publish"]

TOP_FEATURES = 5


def _top_features(diagnostics: dict[str, Any], selection: dict[str, Any]) -> list[dict[str, Any]]:
    """The strongest features for the run record's summary (the whole ranking is in the version's diagnostics.json):
    the best model's permutation importance on the test split when diagnostics measured it, else selection's."""
    held_out = diagnostics.get("importance") or {}
    if held_out.get("source") == "held-out":
        rows = zip(held_out["features"], held_out["permutation"], held_out["gain_share"], strict=False)
        named = {"model": held_out["model"], "gain_model": held_out.get("gain_model")}
        return [
            {"feature": name, "permutation": value, "gain_share": gain, **named}
            for name, value, gain in list(rows)[:TOP_FEATURES]
        ]
    importance, gain = selection.get("importance") or {}, selection.get("gain_share") or {}
    ranked = sorted(importance, key=lambda name: -float(importance[name]))[:TOP_FEATURES]
    return [{"feature": name, "permutation": importance[name], "gain_share": gain.get(name)} for name in ranked]


class Publish(Stage):
    """Publish the version to the registry (files, manifest, then LATEST) and record the run's outcome.

    The record (version, leaderboard, task, metric, leakage suspects, cleaning, selection's kept and dropped features
    with the top features by importance, fit rows, skipped models, report address) is all the runner reports, so
    it never re-reads other stages' files; its existence marks the run as published.
    """

    stage = "publish"

    def requires(self) -> dict[str, Any]:
        run, plan = self.run_id, self.context.plan
        return {
            "ingest": Ingest(run_id=run),
            "clean": Clean(run_id=run),
            "explore": Explore(run_id=run),
            "select": Select(run_id=run),
            "evaluate": Evaluate(run_id=run),
            "models": evaluated_tasks(run, plan),
            "refits": {name: Refit(run_id=run, model=name) for name in plan.evaluated},
        }

    def output(self) -> Targets:
        return {"published": self.target(layout.PUBLISHED)}

    def execute(self, context: RunContext) -> None:
        inputs, cfg = self.input(), context.config
        schema, info = read_problem(inputs["clean"])
        records = inputs["evaluate"]["leaderboard"].load()
        board = pd.DataFrame(records)
        eda = inputs["explore"]["summary"].load()
        names = [str(name) for name in board["model"]]
        refits = {name: inputs["refits"][name]["facts"].load() for name in names}
        models = {name: self._model_bytes(inputs, name, refits[name]["refit"]) for name in names}
        cleaning = inputs["clean"]["report"].load()
        reports = {"cleaning": cleaning, "selection": inputs["select"]["selection"].load()}
        reports["eda"] = {"alerts": eda["alerts"], "leakage": eda["leakage"]}
        files = version_files(
            board=board, schema=schema, models=models, eda_files=inputs["explore"]["files"].load(), reports=reports
        )
        raw = read_table(inputs["ingest"]["data"].load(), name=cfg.data.uri, source=cfg.data.uri)
        files["diagnostics.json"] = inputs["evaluate"]["diagnostics"].load_bytes()
        files[GATE_FILE] = gate_csv(raw, schema, rows=cfg.publish.gate_rows, seed=cfg.split.seed)
        left_out = [name for name in context.plan.evaluated if name not in names]
        skipped = {
            name: str(inputs["models"][name]["facts"].load().get("skipped", "not evaluated")) for name in left_out
        }
        outcome = self._outcome(context, refits[names[0]], skipped)
        extra = {"leakage": eda["leakage"], "selection": {k: reports["selection"][k] for k in ("kept", "dropped")}}
        metadata = version_metadata(
            config=cfg, board=board, schema=schema, info=info, data_sha256=context.data_sha256, run=context.run_id
        )
        registry = Registry(cfg.registry, cfg.project, storage=context.client(), keys=context.keys)
        version = new_version_id(context.run_id)
        latest = registry.publish(version, files, {**metadata, **extra, **outcome})
        report = registry.version_uri(version).join("eda", "report.html")
        published = {"version": version, "manifest_sha256": latest.manifest_sha256, "report_uri": str(report)}
        task = {"task": info.task, "metric": info.metric, "higher_is_better": info.higher_is_better}
        record = {**published, **task, "leaderboard": records, "leakage": eda["leakage"], "cleaning": cleaning}
        why = {
            "selection": {**extra["selection"], "method": reports["selection"]["method"]},
            "importance": _top_features(json.loads(files["diagnostics.json"]), reports["selection"]),
        }
        self.output()["published"].dump({**record, **outcome, **why})

    @staticmethod
    def _model_bytes(inputs: dict[str, Any], name: str, refit: bool) -> bytes:
        """The pickle as stored: the refit on every row when there is one, else the training-split fit."""
        return bytes((inputs["refits"] if refit else inputs["models"])[name]["pickle"].load_bytes())

    @staticmethod
    def _outcome(context: RunContext, best: dict[str, Any], skipped: dict[str, str]) -> dict[str, Any]:
        """What the manifest and the run record say about the fit: rows, refit or why not, skipped models, time."""
        budget = context.plan.budget
        return {
            "fit_rows": int(best["fit_rows"]),
            "refit": bool(best["refit"]),
            "refit_reason": str(best.get("reason", "")),
            "skipped": skipped,
            "time_budget": {"seconds": budget.seconds, "elapsed_at_publish": round(budget.elapsed(), 1)},
        }
