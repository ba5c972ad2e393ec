from __future__ import annotations

import numpy as np
import pandas as pd

from adaptml.pipeline import train
from adaptml.pipeline import workspace as layout
from adaptml.registry import Registry
from adaptml.storage import Storage

from .conftest import ALL_MODELS, ConfigFactory, upload_csv


def test_the_test_split_reaches_no_fitting_step(
    storage: Storage, make_config: ConfigFactory, raw_frame: pd.DataFrame
) -> None:
    """Shuffling the test split's targets changes the data (a new run) but not one fitted model or selection."""
    cfg = make_config(models=ALL_MODELS)
    registry = Registry(cfg.registry, cfg.project, storage=storage)
    first = train(cfg, storage=storage)
    test = layout.Workspace(storage, registry.runs_uri(first.run_id)).load(layout.TEST_SPLIT)
    in_test = raw_frame["x"].isin(test["x"]).to_numpy()
    assert in_test.sum() == len(test)
    shuffled = raw_frame.copy()
    shuffled.loc[in_test, "price"] = np.random.default_rng(1).permutation(shuffled.loc[in_test, "price"].to_numpy())
    upload_csv(storage, cfg.data.uri, shuffled)

    second = train(cfg, storage=storage)
    assert second.run_id != first.run_id and registry.versions() == sorted([first.version, second.version])
    runs = [layout.Workspace(storage, registry.runs_uri(run)) for run in (first.run_id, second.run_id)]
    for artifact in (layout.TRAIN_SPLIT, layout.SELECTION):
        assert len({run.read_bytes(artifact) for run in runs}) == 1, artifact.path
    files = {name: layout.model_files(name) for name in [*ALL_MODELS, "dummy"]}
    for name, artifacts in {**files, "ensemble": layout.ensemble_files("ensemble")}.items():
        models = [run.load(artifacts["pickle"]) for run in runs]
        # equal up to the summation order of multi-threaded forest predictions
        np.testing.assert_allclose(models[0].predict(raw_frame), models[1].predict(raw_frame), rtol=1e-12, err_msg=name)
    boards = [result.leaderboard.set_index("model") for result in (first, second)]
    assert not np.allclose(boards[0].loc["lightgbm", "rmse"], boards[1].loc["lightgbm", "rmse"])
    assert boards[0].loc["lightgbm", "cv_rmse_mean"] == boards[1].loc["lightgbm", "cv_rmse_mean"]
