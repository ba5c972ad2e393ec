"""The time budget and the refit, through a real run: skipped models are recorded with why, and a version is
published whether or not the refit on every row fits."""

from __future__ import annotations

import json
import pickle

import pandas as pd

from adaptml.pipeline import train
from adaptml.registry import Registry
from adaptml.storage import Storage
from adaptml.training.portfolio import candidates

from .conftest import ConfigFactory


def test_a_budget_spent_on_preparation_trains_the_first_model_skips_the_rest_and_publishes_unrefit(
    storage: Storage, make_config: ConfigFactory
) -> None:
    # one second is gone before the first model trains (preparation alone takes longer), so nothing else fits
    cfg = make_config(models=["ridge", "lightgbm", "xgboost"], time_budget_seconds=1)
    result = train(cfg, storage=storage)

    assert set(result.leaderboard["model"]) == {"dummy", "ridge"}
    assert set(result.skipped) == {"lightgbm", "xgboost", "ensemble"}
    assert all(why.startswith("skipped: an estimated") for name, why in result.skipped.items() if name != "ensemble")
    manifest = Registry(cfg.registry, cfg.project, storage=storage).load().manifest
    assert manifest["skipped"] == result.skipped and manifest["refit"] is False
    assert manifest["refit_reason"].startswith("not refit: an estimated")
    cleaning = json.loads(Registry(cfg.registry, cfg.project, storage=storage).load().files["reports/cleaning.json"])
    assert manifest["fit_rows"] == result.fit_rows < cleaning["rows_out"]
    assert manifest["time_budget"]["seconds"] == 1


def test_refit_off_publishes_the_training_split_fits(storage: Storage, make_config: ConfigFactory) -> None:
    cfg = make_config(models=["ridge", "lightgbm"], publish={"refit": False, "gate_rows": 20})
    result = train(cfg, storage=storage)

    loaded = Registry(cfg.registry, cfg.project, storage=storage).load()
    cleaning = json.loads(loaded.files["reports/cleaning.json"])
    assert loaded.manifest["refit"] is False and "publish.refit is off" in loaded.manifest["refit_reason"]
    assert result.fit_rows == loaded.manifest["fit_rows"] < cleaning["rows_out"]
    assert len(pd.read_csv(pd.io.common.BytesIO(loaded.files["gate.csv"]))) == 20


def test_a_run_records_each_models_winning_configuration_and_serves_catboost(
    storage: Storage, make_config: ConfigFactory
) -> None:
    cfg = make_config(models=["lightgbm", "catboost"], tuning={"cv_folds": 2, "budget_seconds": 0.1})
    result = train(cfg, storage=storage)

    configs = dict(zip(result.leaderboard["model"], result.leaderboard["config"], strict=True))
    assert configs["lightgbm"] in {c.name for c in candidates("lightgbm")} and configs["ensemble"] == "weights"
    assert configs["catboost"] in {c.name for c in candidates("catboost")}
    loaded = Registry(cfg.registry, cfg.project, storage=storage).load()
    schema = json.loads(loaded.files["schema.json"])
    model = pickle.loads(loaded.files["models/catboost.pkl"])
    assert model.predict(pd.DataFrame([schema["example"]])).shape == (1,)
