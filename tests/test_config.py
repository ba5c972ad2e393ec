from __future__ import annotations

from pathlib import Path

import pytest

from adaptml.config import load_config
from adaptml.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


VALID = """
project: p
data: {uri: s3://b/data/x.csv, target: y}
registry: s3://b/registry
"""


@pytest.mark.parametrize("name", ["hotel_rates", "adult"])
def test_bundled_configs_load(name):
    cfg = load_config(ROOT / "configs" / f"{name}.yaml")
    assert cfg.data.uri.endswith(f"{name}.csv.gz")
    assert len(cfg.models) >= 5


def test_defaults_and_frozen(tmp_path):
    cfg = load_config(write(tmp_path, VALID))
    assert cfg.split.test_size == 0.2
    assert cfg.data.task == "auto" and cfg.data.deduplicate is True
    assert cfg.time_budget_seconds == 60.0 and cfg.publish.refit is True and cfg.publish.gate_rows == 300
    assert cfg.selection.enabled is False and cfg.models[0] == "hgb_default"
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type
        cfg.project = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("tuning", "strategy", "bounded", "unbounded"),
    [
        ("", "portfolio", float("inf"), 0.0),  # the portfolio's share of the run's time budget decides
        ("tuning: {budget_seconds: 5}\n", "portfolio", 5.0, 5.0),
        ("tuning: {strategy: random}\n", "random", 0.0, 0.0),  # as before: no budget, no random search
        ("tuning: {strategy: random, budget_seconds: 5}\n", "random", 5.0, 5.0),
        ("tuning: {strategy: none, budget_seconds: 5}\n", "none", 0.0, 0.0),
    ],
)
def test_tuning_strategy_and_its_cap(tmp_path, tuning, strategy, bounded, unbounded):
    cfg = load_config(write(tmp_path, VALID + tuning))
    assert cfg.tuning.strategy == strategy
    assert cfg.tuning.cap_seconds(bounded=True) == bounded and cfg.tuning.cap_seconds(bounded=False) == unbounded


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (VALID + "colour: red\n", "unknown key 'colour'"),
        (VALID.replace("target: y", "target: y, extra: 1"), "unknown key 'data.extra'"),
        (VALID + "split: {test_size: big}\n", "invalid value for 'split.test_size'"),
        (VALID + "split: {strategy: time}\n", "needs split.time_column"),
        ("project: p\ndata: {uri: s3://b/x.csv}\nregistry: s3://b/r\n", "missing required key 'data.target'"),
        (VALID + "models: [ridge, deep_net]\n", "unknown model 'deep_net'"),
        (VALID.replace("s3://b/data/x.csv", "/local/x.csv"), "must be an s3://bucket/key URI"),
        (VALID + "publish: {refit: true, when: now}\n", "unknown key 'publish.when'"),
        (VALID + "time_budget_seconds: -1\n", "invalid value for 'time_budget_seconds'"),
        ("- a\n- b\n", "expected a mapping"),
        ("project: [unclosed\n", "not valid YAML at line"),
    ],
)
def test_invalid_configs_name_key_and_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (VALID.replace("target: y", "taget: y"), "unknown key 'data.taget' (did you mean 'target'?)"),
        (VALID + "modles: [ridge]\n", "unknown key 'modles' (did you mean 'models'?)"),
        (VALID + "split: {tset_size: 0.3}\n", "unknown key 'split.tset_size' (did you mean 'test_size'?)"),
        (VALID + "serving: {poll_second: 3}\n", "unknown key 'serving.poll_second' (did you mean 'poll_seconds'?)"),
        (VALID + "time_budget: 5\n", "unknown key 'time_budget' (did you mean 'time_budget_seconds'?)"),
    ],
)
def test_misspelt_keys_suggest_the_closest_valid_key_at_every_level(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)


def test_unknown_key_far_from_any_valid_key_suggests_nothing(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, VALID + "colour: red\n"))
    assert "did you mean" not in str(info.value)


def test_metric_must_fit_task(tmp_path):
    text = VALID.replace("target: y", "target: y, task: regression") + "metric: roc_auc\n"
    with pytest.raises(ConfigError, match="does not fit task 'regression'"):
        load_config(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_model_names_come_from_the_zoo(tmp_path):
    from adaptml.training.zoo import MODEL_NAMES

    cfg = load_config(write(tmp_path, VALID + f"models: [{', '.join(MODEL_NAMES)}]\n"))
    assert cfg.models == MODEL_NAMES
    with pytest.raises(ConfigError, match=f"choose from {', '.join(MODEL_NAMES)}"):
        load_config(write(tmp_path, VALID + "models: [deep_net]\n"))


def test_unknown_target_lists_the_closest_column_names_first():
    from adaptml.training.task import missing_target_message

    columns = ["row_id", "city", "stars", "rooms", "price_in_cents", "price", "a", "b", "c", "d"]
    message = missing_target_message("pirce", columns)
    assert message.startswith("target column 'pirce' is not in the dataset")
    assert "closest columns first: price, price_in_cents, " in message and "(10 in all)" in message
