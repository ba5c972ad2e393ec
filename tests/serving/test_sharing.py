"""Shared work: models of one version run their identical steps once per batch, ensembles reuse their members."""

from __future__ import annotations

import pickle
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeRegressor

from adaptml.serving.sharing import SharedPipeline, share_steps, shared_work


class CountingScaler(TransformerMixin, BaseEstimator):
    """Subtracts the fitted mean; counts its transforms (per class, so pickled copies count together)."""

    calls: ClassVar[list[int]] = []

    def fit(self, X: pd.DataFrame, y: Any = None) -> CountingScaler:  # noqa: N803
        self.mean_ = X.mean()
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        CountingScaler.calls.append(len(X))
        return X - self.mean_


class Average(RegressorMixin, BaseEstimator):
    """An ensemble step holding whole member pipelines, like the one training publishes."""

    def __init__(self, members: list[tuple[str, Any]] | None = None) -> None:
        self.members = members

    def fit(self, X: pd.DataFrame, y: Any = None) -> Average:  # noqa: N803
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return np.mean([member.predict(X) for _, member in self.members or []], axis=0)


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})


@pytest.fixture
def loaded(frame: pd.DataFrame) -> dict[str, Pipeline]:
    """Three pipelines pickled separately and loaded back, as serving loads a version's models/*.pkl."""
    y = frame["a"] * 2 + frame["b"]
    ridge = Pipeline([("scale", CountingScaler()), ("model", Ridge())]).fit(frame, y)
    tree = Pipeline([("scale", CountingScaler()), ("model", DecisionTreeRegressor(random_state=0))]).fit(frame, y)
    ensemble = Pipeline([("average", Average([("ridge", ridge), ("tree", tree)]))]).fit(frame, y)
    return {
        name: pickle.loads(pickle.dumps(p)) for name, p in {"ridge": ridge, "tree": tree, "ensemble": ensemble}.items()
    }


def test_shared_predictions_equal_the_pipelines_own(loaded, frame):
    shared = share_steps(loaded)
    with shared_work():
        answers = {name: pipeline.predict(frame) for name, pipeline in shared.items()}
    for name, pipeline in loaded.items():
        np.testing.assert_allclose(answers[name], pipeline.predict(frame))


def test_identical_steps_run_once_per_batch_and_the_ensemble_reuses_its_members(loaded, frame):
    shared = share_steps(loaded)
    CountingScaler.calls.clear()
    with shared_work():
        for pipeline in shared.values():
            pipeline.predict(frame)
    assert CountingScaler.calls == [len(frame)]  # one scaling for ridge, tree and both ensemble members


def test_outside_a_block_and_on_new_input_nothing_is_reused(loaded, frame):
    shared = share_steps(loaded)
    CountingScaler.calls.clear()
    shared["ridge"].predict(frame)
    shared["ridge"].predict(frame)
    with shared_work():
        shared["ridge"].predict(frame)
        shared["ridge"].predict(frame.head(5))
    assert CountingScaler.calls == [60, 60, 60, 5]


def test_loaded_models_are_left_untouched_and_wrappers_pickle(loaded, frame):
    shared = share_steps(loaded)
    members = loaded["ensemble"].steps[-1][1].members
    assert all(isinstance(member, Pipeline) for _, member in members)
    copy = pickle.loads(pickle.dumps(shared["ensemble"]))
    assert isinstance(copy, SharedPipeline)
    np.testing.assert_allclose(copy.predict(frame), loaded["ensemble"].predict(frame))


def test_different_fitted_steps_are_not_shared(frame):
    y = frame["a"]
    first = Pipeline([("scale", CountingScaler()), ("model", Ridge())]).fit(frame, y)
    second = Pipeline([("scale", CountingScaler()), ("model", Ridge())]).fit(frame + 5, y)
    shared = share_steps({"first": first, "second": second})
    with shared_work():
        answers = {name: pipeline.predict(frame) for name, pipeline in shared.items()}
    np.testing.assert_allclose(answers["first"], first.predict(frame))
    np.testing.assert_allclose(answers["second"], second.predict(frame))
