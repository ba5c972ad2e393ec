from __future__ import annotations

import io
import pickle

import numpy as np
import pandas as pd

from adaptml.pipeline import train
from adaptml.registry import Registry
from adaptml.storage import Storage

from .conftest import ALL_MODELS, ConfigFactory, upload_csv


def _workspace_object(storage: Storage, registry: Registry, run: str, path: str) -> bytes:
    return storage.get_bytes(registry.runs_uri(run).join(path))


def test_the_test_split_reaches_no_fitting_step(
    storage: Storage, make_config: ConfigFactory, raw_frame: pd.DataFrame
) -> None:
    """Shuffling the test split's targets changes the data (a new run) but not one fitted model or selection."""
    cfg = make_config(models=ALL_MODELS)
    registry = Registry(cfg.registry, cfg.project, storage=storage)
    first = train(cfg, storage=storage)
    test = pd.read_parquet(io.BytesIO(_workspace_object(storage, registry, first.run_id, "split/test.parquet")))
    in_test = raw_frame["x"].isin(test["x"]).to_numpy()
    assert in_test.sum() == len(test)
    shuffled = raw_frame.copy()
    shuffled.loc[in_test, "price"] = np.random.default_rng(1).permutation(shuffled.loc[in_test, "price"].to_numpy())
    upload_csv(storage, cfg.data.uri, shuffled)

    second = train(cfg, storage=storage)
    assert second.run_id != first.run_id and registry.versions() == sorted([first.version, second.version])
    runs = (first.run_id, second.run_id)
    for path in ("split/train.parquet", "reports/selection.json"):
        assert len({_workspace_object(storage, registry, run, path) for run in runs}) == 1, path
    for name in [*ALL_MODELS, "dummy", "ensemble"]:
        models = [pickle.loads(_workspace_object(storage, registry, run, f"models/{name}.pkl")) for run in runs]
        # equal up to the summation order of multi-threaded forest predictions
        np.testing.assert_allclose(models[0].predict(raw_frame), models[1].predict(raw_frame), rtol=1e-12, err_msg=name)
    boards = [result.leaderboard.set_index("model") for result in (first, second)]
    assert not np.allclose(boards[0].loc["lightgbm", "rmse"], boards[1].loc["lightgbm", "rmse"])
    assert boards[0].loc["lightgbm", "cv_rmse_mean"] == boards[1].loc["lightgbm", "cv_rmse_mean"]
