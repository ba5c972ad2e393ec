"""Pipeline fixtures: a small messy dataset on the embedded S3 server and configs that point at it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from adaptml.config import Config, parse_config
from adaptml.storage import Storage
from training.frames import messy_frame

ALL_MODELS = ["ridge", "random_forest", "extra_trees", "hist_gradient_boosting", "lightgbm", "xgboost"]

ConfigFactory = Callable[..., Config]


def upload_csv(storage: Storage, uri: str, frame: pd.DataFrame) -> None:
    storage.put_bytes(uri, frame.to_csv(index=False).encode("utf-8"))


def config_dict(bucket: str, **overrides: Any) -> dict[str, Any]:
    data = {"uri": f"s3://{bucket}/data/table.csv", "target": "price", **overrides.pop("data", {})}
    return {
        "project": "demo",
        "data": data,
        "models": ["ridge", "lightgbm"],
        "registry": f"s3://{bucket}/registry",
        "tuning": {"cv_folds": 3},
        "time_budget_seconds": 0,  # unbounded: which models train must not depend on the machine's load
        **overrides,
    }


@pytest.fixture
def raw_frame() -> pd.DataFrame:
    return messy_frame(240)


@pytest.fixture
def make_config(storage: Storage, bucket: str, raw_frame: pd.DataFrame) -> ConfigFactory:
    """Upload ``raw_frame`` (unless told otherwise) and return a factory of configs for it."""
    upload_csv(storage, f"s3://{bucket}/data/table.csv", raw_frame)

    def factory(**overrides: Any) -> Config:
        return parse_config(config_dict(bucket, **overrides))

    return factory


def write_yaml(path: Path, config: Config) -> Path:
    path.write_text(yaml.safe_dump(config.to_dict()), encoding="utf-8")
    return path
