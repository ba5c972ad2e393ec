from __future__ import annotations

import json
import pickle

import pandas as pd

from adaptml.pipeline import train
from adaptml.pipeline.context import StageEvent
from adaptml.registry import Registry
from adaptml.storage import Storage

from .conftest import ALL_MODELS, ConfigFactory


def test_a_run_publishes_a_verified_version_and_a_rerun_is_up_to_date(
    storage: Storage, make_config: ConfigFactory
) -> None:
    cfg = make_config(models=ALL_MODELS)
    events: list[StageEvent] = []
    result = train(cfg, storage=storage, workers=2, progress=events.append)

    registry = Registry(cfg.registry, cfg.project, storage=storage)
    loaded = registry.load()  # verifies the manifest and every file's sha256
    assert loaded.version == result.version and not result.up_to_date
    names = set(result.leaderboard["model"])
    assert names == {"dummy", "ensemble", *ALL_MODELS}
    expected = {"metrics.csv", "schema.json", "eda/report.html", "reports/cleaning.json", "reports/selection.json"}
    assert expected | {f"models/{name}.pkl" for name in names} <= set(loaded.files)
    assert any(path.startswith("eda/plots/") and path.endswith(".png") for path in loaded.files)

    manifest = loaded.manifest
    assert manifest["task"] == "regression" and manifest["metric"] == "rmse" and not manifest["higher_is_better"]
    assert manifest["run_id"] == result.run_id and len(manifest["data_sha256"]) == 64
    assert manifest["config"]["project"] == "demo" and "scikit-learn" in manifest["libraries"]
    assert [row["model"] for row in manifest["leaderboard"]] == list(result.leaderboard["model"])
    metrics = pd.read_csv(pd.io.common.BytesIO(loaded.files["metrics.csv"]))
    assert list(metrics.columns[:3]) == ["rank", "model", "rmse"]
    assert metrics["rmse"].is_monotonic_increasing
    assert {"cv_rmse_mean", "cv_rmse_std", "fit_seconds", "predict_ms_per_1000", "pickle_bytes"} <= set(metrics.columns)
    assert metrics["cv_rmse_mean"].notna().all()  # the ensemble's too: its out-of-fold blend on the same folds
    schema = json.loads(loaded.files["schema.json"])
    assert "row_id" not in [c["name"] for c in schema["columns"]]  # ID-like: dropped, not in the schema
    assert result.leaderboard.iloc[0]["rmse"] < result.leaderboard.set_index("model").loc["dummy", "rmse"]
    assert {e.stage for e in events if e.kind == "done"} >= {"ingest", "clean", "explore", "publish", "train xgboost"}
    cleaning = json.loads(loaded.files["reports/cleaning.json"])
    assert manifest["refit"] is True and manifest["fit_rows"] == cleaning["rows_out"] == result.fit_rows
    assert manifest["skipped"] == {} and manifest["files"]["gate.csv"]["sha256"]
    gate = pd.read_csv(pd.io.common.BytesIO(loaded.files["gate.csv"]))
    assert list(gate.columns) == [c["name"] for c in schema["columns"]] and 0 < len(gate) <= 300
    best = pickle.loads(loaded.files[f"models/{result.leaderboard.iloc[0]['model']}.pkl"])
    assert best.predict(pd.DataFrame([schema["example"]])).shape == (1,)

    again: list[StageEvent] = []
    rerun = train(cfg, storage=storage, progress=again.append)
    assert rerun.up_to_date and rerun.version == result.version
    assert registry.versions() == [result.version]
    assert not [e for e in again if e.kind == "start"]
