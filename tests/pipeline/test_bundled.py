"""Both bundled datasets, end to end through the real CLI against the embedded S3 server (slow: minutes)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import root_mean_squared_error
from sklearn.pipeline import make_pipeline

from adaptml.config import load_config
from adaptml.pipeline import workspace as layout
from adaptml.registry import Registry
from adaptml.schema import Schema
from adaptml.storage import Storage
from adaptml.training.features import DateParts, NativeEncoder, plan_features

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "adaptml", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=dict(os.environ), check=False)


def _default_hgb_rmse(storage: Storage, registry: Registry, run_id: str) -> float:
    """A default HistGradientBoostingRegressor on the run's own train/test split, with the same date parts."""
    workspace = layout.Workspace(storage, registry.runs_uri(run_id))
    schema = Schema.from_dict(workspace.load(layout.PROBLEM)["schema"])
    train, test = workspace.load(layout.TRAIN_SPLIT), workspace.load(layout.TEST_SPLIT)
    plan = plan_features(schema, train)
    model = make_pipeline(
        DateParts(plan.datetime),
        NativeEncoder(plan.numeric, plan.low_cardinality + plan.high_cardinality),
        HistGradientBoostingRegressor(random_state=0),
    )
    model.fit(train.drop(columns=[schema.target]), train[schema.target])
    return float(root_mean_squared_error(test[schema.target], model.predict(test.drop(columns=[schema.target]))))


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", ["hotel_rates", "adult"])
def test_bundled_dataset_trains_and_publishes_through_the_cli(storage: Storage, tmp_path: Path, name: str) -> None:
    bucket = f"bundled-{uuid.uuid4().hex[:10]}"
    raw = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    raw["data"]["uri"] = f"s3://{bucket}/data/{name}.csv.gz"
    raw["registry"] = f"s3://{bucket}/registry"
    raw["time_budget_seconds"] = 0  # every listed model must train however loaded the machine is
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)

    assert _cli("seed", str(path)).returncode == 0
    done = _cli("train", str(path))
    assert done.returncode == 0, done.stderr
    assert "published version:" in done.stdout

    registry = Registry(cfg.registry, cfg.project, storage=storage)
    loaded = registry.load()  # every sha256 verifies
    board = pd.DataFrame(loaded.manifest["leaderboard"]).set_index("model")
    assert {"dummy", *cfg.models} <= set(board.index) and len(set(board.index) - {"dummy", "ensemble"}) >= 5
    assert {f"models/{m}.pkl" for m in board.index} | {"eda/report.html", "metrics.csv", "schema.json"} <= set(
        loaded.files
    )
    best = board.sort_values("rank").iloc[0]
    if name == "hotel_rates":
        assert best["rmse"] < _default_hgb_rmse(storage, registry, loaded.manifest["run_id"])
    else:
        assert best["roc_auc"] >= 0.92
    assert np.isfinite(board[f"cv_{cfg.metric}_mean"]).all()  # the ensemble's from its out-of-fold blend
