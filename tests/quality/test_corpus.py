"""Crash-free check on the robustness corpus: small real datasets, uploaded raw to the embedded S3 server, trained
with ``adaptml train`` (a fast config: two models, two CV folds), published, and the best model read back from
the registry and scored on the held-back rows. The full corpus and the HGB comparison live in ``python -m bench
quality``; this module only proves that nothing crashes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from bench.corpus.datasets import Dataset, by_name
from bench.corpus.scoring import read_split, score_published
from bench.quality import train_config, upload
from typer.testing import CliRunner

from adaptml.cli import app
from adaptml.registry import Registry
from adaptml.storage import Storage

FAST: dict[str, Any] = {"models": ["ridge", "lightgbm"], "tuning": {"cv_folds": 2}}
# birthwt (a 0/1 target) and college (Yes/No) crashed before cleaning kept their labels as classes (issue 13).
CASES = (
    "arthritis",
    "glass",
    "survey",
    "penguins",
    "stocks",
    "seattle_weather",
    "carseats",
    "orange_juice",
    "birthwt",
    "college",
)


def _train(dataset: Dataset, storage: Storage, bucket: str, folder: Path) -> Registry:
    config = train_config(dataset, bucket, **FAST)
    upload(dataset, storage, config)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["train", str(path)])
    assert result.exit_code == 0, f"{dataset.name}: {result.stderr or result.stdout[-2000:]}"
    assert "published version:" in result.stdout
    return Registry(config["registry"], config["project"], storage=storage)


@pytest.mark.parametrize("name", CASES)
def test_corpus_dataset_trains_publishes_and_scores(name: str, storage: Storage, bucket: str, tmp_path: Path) -> None:
    (dataset,) = by_name(name)
    registry = _train(dataset, storage, bucket, tmp_path)
    assert len(registry.versions()) == 1

    _, test = read_split(dataset)
    scored = score_published(dataset, registry, test)

    value = scored[dataset.metric]
    assert math.isfinite(value)
    if dataset.task == "regression":
        assert scored["r2"] > 0, scored  # better than predicting the mean
    else:
        assert value > 0.5, scored  # better than chance
