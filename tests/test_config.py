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
