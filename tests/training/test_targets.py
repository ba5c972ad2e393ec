"""Binary targets in their two commonest spellings train end to end (regression for issue 13's crash)."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest

from adaptml.config import parse_config
from adaptml.pipeline import train
from adaptml.registry import Registry
from adaptml.storage import Storage
from adaptml.training import resolve_task, target_labels


def _table(labels: list[Any], rows: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows), "y": rng.choice(labels, rows)})


@pytest.mark.slow
@pytest.mark.parametrize("labels", [[0, 1], ["Yes", "No"]], ids=["0/1", "Yes/No"])
def test_a_binary_target_spelled_0_1_or_yes_no_trains_with_a_minimal_config(
    storage: Storage, bucket: str, labels: list[Any]
) -> None:
    uri = f"s3://{bucket}/data/table.csv"
    storage.put_bytes(uri, _table(labels).to_csv(index=False).encode())
    minimal = {"project": "targets", "data": {"uri": uri, "target": "y"}, "registry": f"s3://{bucket}/reg"}
    # the minimal config with a 10 s time budget: the default 60 s is mostly portfolio tuning, and every stage the
    # labels pass through (cleaning, split, selection, the first models, publishing) still runs
    cfg = parse_config({**minimal, "time_budget_seconds": 10})

    result = train(cfg, storage=storage)

    loaded = Registry(cfg.registry, cfg.project, storage=storage).load()
    assert result.task == "classification" and result.metric == "roc_auc"
    assert loaded.manifest["classes"] == sorted(labels, key=str)  # the labels as written, not 1.0/0.0
    best = pickle.loads(loaded.files[f"models/{result.leaderboard.iloc[0]['model']}.pkl"])
    predicted = best.predict(pd.DataFrame({"a": [0.1, -1.0], "b": [0.3, 2.0]}))
    assert set(predicted) <= set(labels)


@pytest.mark.parametrize("values", [[0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0], ["Yes", "No", "No", "Yes"]])
def test_class_labels_are_a_type_scikit_learn_accepts(values: list[Any]) -> None:
    from sklearn.utils.multiclass import type_of_target

    target = pd.Series(values * 5, name="y")
    info = resolve_task(target, configured_task="auto", configured_metric=None)
    labels = target_labels(target, info.task)
    assert info.task == "classification" and type_of_target(labels) == "binary"
    assert len(info.classes) == 2
