"""Derived features: free text, times of day and dates written as text, planned and engineered inside the pipeline."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from adaptml.schema import infer_schema
from adaptml.training.features import (
    ColumnSelector,
    DateParts,
    DerivedFeatures,
    FeaturePlan,
    derive_step,
    engineer,
    make_encoder,
    plan_features,
)
from adaptml.training.text import TEXT_STATS, TextFeatures, looks_like_text, text_feature_names

WORDS = ["great", "terrible", "fake", "news", "market", "jobs", "win", "sad", "big", "vote", "now", "today"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sentences = [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) for _ in range(rows)]
    sentences[0] = None  # type: ignore[call-overload]
    stamps = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 10**8, rows), unit="s")
    months = [
        f"{MONTHS[m]} 1 {y}" for m, y in zip(rng.integers(0, 12, rows), rng.integers(2000, 2010, rows), strict=True)
    ]
    text_signal = np.array([0.0 if s is None else 3.0 * s.count("great") for s in sentences])
    return pd.DataFrame(
        {
            "tweet": sentences,
            "posted": stamps,
            "month": months,
            "colour": rng.choice(["red", "green", "blue"], rows),
            "n": rng.normal(size=rows),
            "y": text_signal + stamps.hour.to_numpy() / 6 + rng.normal(scale=0.1, size=rows),
        }
    )


@pytest.fixture
def planned() -> tuple[pd.DataFrame, FeaturePlan]:
    frame = _frame()
    schema = infer_schema(frame.drop(columns=["y"]), target="y", task="regression")
    typed = schema.coerce(frame.drop(columns=["y"]), strict=False).assign(y=frame["y"])
    return typed, plan_features(schema, typed)


def test_the_plan_finds_text_times_of_day_and_dates_written_as_text(planned: tuple[pd.DataFrame, FeaturePlan]) -> None:
    _, plan = planned
    assert plan.text == ("tweet",) and plan.timed == ("posted",) and plan.dated_text == ("month",)
    assert "tweet" not in plan.features  # nearly every sentence is distinct: a level would be noise
    assert "colour" in plan.low_cardinality and "month" not in plan.features
    assert {"posted_hour", "posted_minute_of_day", "month_year", "month_days"} <= set(plan.numeric)
    assert set(text_feature_names("tweet")) <= set(plan.numeric)


def test_short_codes_and_few_levels_are_not_text() -> None:
    codes = pd.Series([f"N{i}UA" for i in range(200)])
    levels = pd.Series(["Twitter for Android", "Twitter for iPhone"] * 100)
    assert looks_like_text(codes) == 0.0 and looks_like_text(levels) == 0.0
    assert looks_like_text(pd.Series([f"senior engineer {i}" for i in range(200)])) > 1.5


def test_derived_features_are_the_planned_numbers_and_missing_text_stays_missing(
    planned: tuple[pd.DataFrame, FeaturePlan],
) -> None:
    typed, plan = planned
    step = derive_step(plan)
    assert isinstance(step, DerivedFeatures)
    out = step.fit(typed).transform(typed)
    assert set(plan.features) <= set(out.columns)
    assert out.loc[0, [f"tweet_{s}" for s in TEXT_STATS]].isna().all()  # row 0 has no text
    assert (out.loc[0, text_feature_names("tweet")[len(TEXT_STATS) :]] == 0).all()
    assert out.loc[1, "tweet_words"] == len(str(typed.loc[1, "tweet"]).split())
    assert out.loc[1, "posted_hour"] == pd.Timestamp(typed["posted"].iloc[1]).hour
    assert out.loc[1, "month_year"] == int(str(typed.loc[1, "month"]).split()[-1])


def test_one_record_gets_the_same_numbers_as_in_a_batch(planned: tuple[pd.DataFrame, FeaturePlan]) -> None:
    typed, plan = planned
    step = derive_step(plan).fit(typed)
    batch = step.transform(typed)[list(plan.numeric)]
    single = step.transform(typed.iloc[[5]])[list(plan.numeric)]
    np.testing.assert_allclose(single.to_numpy(float), batch.iloc[[5]].to_numpy(float), rtol=1e-9, atol=1e-12)


def test_plain_dates_keep_the_date_parts_step_the_compiled_path_knows() -> None:
    plan = FeaturePlan(("when",), ("n",), (), (), {})
    assert type(derive_step(plan)) is DateParts


def test_text_without_vocabulary_gives_zero_components() -> None:
    frame = pd.DataFrame({"t": ["same"] * 5 + [None] * 5})  # one token: nothing to reduce
    out = TextFeatures(("t",), components=3).fit(frame).transform(frame)
    assert (out[["t_svd0", "t_svd1", "t_svd2"]] == 0).all().all()


def _fitted(plan: FeaturePlan, family: str, model: BaseEstimator, train: pd.DataFrame) -> Pipeline:
    steps = [
        ("dates", derive_step(plan)),
        ("select", ColumnSelector(tuple(plan.features))),
        ("encode", make_encoder(family, plan, task="regression", seed=0)),
        ("model", model),
    ]
    return Pipeline(steps).fit(train, train["y"])


@pytest.mark.parametrize(("family", "model"), [("native", HistGradientBoostingRegressor()), ("linear", Ridge())])
def test_a_pipeline_learns_from_the_text_and_survives_pickling(
    planned: tuple[pd.DataFrame, FeaturePlan], family: str, model: BaseEstimator
) -> None:
    typed, plan = planned
    train, test = typed.iloc[:240], typed.iloc[240:]
    without_text = plan.kept([n for n in plan.features if not n.startswith("tweet_")])
    restored = pickle.loads(pickle.dumps(_fitted(plan, family, model, train)))
    blind = _fitted(without_text, family, clone(model), train)

    def rmse(pipeline: Pipeline) -> float:
        return float(np.sqrt(np.mean((test["y"] - pipeline.predict(test)) ** 2)))

    assert rmse(restored) < 0.9 * rmse(blind)


def test_engineer_matches_the_plan(planned: tuple[pd.DataFrame, FeaturePlan]) -> None:
    typed, plan = planned
    assert list(engineer(typed, plan).columns) == plan.features
    restricted = plan.kept(["n", "tweet_svd0"])
    assert restricted.text == plan.text and restricted.features == ["n", "tweet_svd0"]
