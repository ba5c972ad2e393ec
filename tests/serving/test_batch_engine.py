"""Which batches the production app sends to Dask: a cluster only when a request can exceed the threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from adaptml.config import load_config
from adaptml.serving.dask_engine import DaskEngine
from adaptml.serving.server import batch_engine
from adaptml.serving.settings import Environment, ServingSettings


def _settings(tmp_path: Path, **serving: Any) -> ServingSettings:
    path = tmp_path / "serve.yaml"
    config = {"project": "p", "data": {"uri": "s3://b/d.csv", "target": "y"}, "registry": "s3://b/registry"}
    path.write_text(yaml.safe_dump({**config, "serving": serving}))
    return ServingSettings.from_config(load_config(path), Environment())


def test_batches_above_the_threshold_go_to_dask(tmp_path: Path) -> None:
    engine = batch_engine(_settings(tmp_path, dask_threshold=10), Environment(dask_scheduler="tcp://10.0.0.5:8786"))
    assert isinstance(engine, DaskEngine)


def test_no_cluster_when_no_request_can_exceed_the_threshold(tmp_path: Path) -> None:
    assert batch_engine(_settings(tmp_path, dask_threshold=1_000, max_rows=1_000), Environment()) is None
