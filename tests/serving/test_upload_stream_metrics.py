"""A streamed CSV upload that carries the target column ends with a ``#metrics:`` line: every model's metrics over
all the batches, the same as the JSON answer to the same body read whole (serving/streaming.py)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.serving.conftest import frame_to_csv

from adaptml.serving import csv_batches, limits
from adaptml.serving.target_metrics import TargetScorer, score_target
from adaptml.training.task import TaskInfo

ROWS = 300


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "STREAM_BYTES", 1024)  # every body of a KiB or more is streamed
    monkeypatch.setattr(csv_batches, "BLOCK_BYTES", 2048)  # a few dozen rows per batch


def _streamed(client: Any, body: bytes) -> tuple[pd.DataFrame, list[str]]:
    response = client.post("/api/v1/predict", data=body, headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    assert response.status_code == 200 and response.is_streamed
    lines = response.get_data().decode().splitlines()
    trailers = [line for line in lines if line.startswith("#")]
    return pd.read_csv(io.StringIO("\n".join(line for line in lines if not line.startswith("#")))), trailers


def _whole_metrics(client: Any, body: bytes) -> dict[str, Any]:
    response = client.post("/api/v1/predict", data=body, content_type="text/csv")  # JSON: read whole
    return response.get_json()["metrics"]


def _labelled(bundle: Any, drop: str) -> pd.DataFrame:
    return bundle.frame.drop(columns=[drop]).sample(ROWS, replace=True, random_state=5).reset_index(drop=True)


def test_a_labelled_stream_ends_with_the_metrics_of_the_whole_body(client, published, monkeypatch):
    batch = _labelled(published, "segment")
    batch["price"] = batch["price"].astype(object)
    batch.loc[[3, 250], "price"] = [None, "n/a"]  # missing targets: skipped and counted
    body = frame_to_csv(batch)
    expected = _whole_metrics(client, body)
    monkeypatch.setattr(limits, "STREAM_BYTES", 1024)
    monkeypatch.setattr(csv_batches, "BLOCK_BYTES", 2048)
    table, trailers = _streamed(client, body)
    assert len(table) == ROWS and "price" not in table.columns  # the target is read, never echoed as an input
    (line,) = trailers
    assert line.startswith("#metrics: ")
    got = json.loads(line.removeprefix("#metrics: "))
    assert got["rows_scored"] == ROWS - 2 and got["rows_skipped"] == {"missing_target": 2, "unusable_target": 0}
    assert _close(got, expected)


def test_a_labelled_classification_stream_scores_every_batch(classification_client, classification_bundle, monkeypatch):
    body = frame_to_csv(_labelled(classification_bundle, "price"))
    expected = _whole_metrics(classification_client, body)
    monkeypatch.setattr(limits, "STREAM_BYTES", 1024)
    monkeypatch.setattr(csv_batches, "BLOCK_BYTES", 2048)
    _, trailers = _streamed(classification_client, body)
    (line,) = trailers
    got = json.loads(line.removeprefix("#metrics: "))
    assert got["rows_scored"] == ROWS and {"accuracy", "roc_auc"} <= set(next(iter(got["models"].values())))
    assert _close(got, expected)


def test_no_metrics_line_without_the_target(client, published, small_batches):
    table, trailers = _streamed(client, frame_to_csv(published.features.sample(ROWS, replace=True, random_state=6)))
    assert trailers == [] and len(table) == ROWS


def _close(got: dict[str, Any], expected: dict[str, Any]) -> bool:
    """The same metrics (to the 6 decimals the answer rounds to), model by model."""
    assert got["rows_scored"] == expected["rows_scored"] and got["rows_skipped"] == expected["rows_skipped"]
    assert set(got["models"]) == set(expected["models"])
    for name, metrics in expected["models"].items():
        assert got["models"][name] == pytest.approx(metrics, abs=2e-6, nan_ok=True), name
    return True


@dataclass(frozen=True)
class _Output:
    name: str
    predictions: np.ndarray
    probabilities: np.ndarray | None = None
    classes: tuple[Any, ...] = ()
    errors: dict[int, str] = field(default_factory=dict)

    def rows(self, start: int, stop: int) -> _Output:
        errors = {row - start: text for row, text in self.errors.items() if start <= row < stop}
        proba = None if self.probabilities is None else self.probabilities[start:stop]
        return _Output(self.name, self.predictions[start:stop], proba, self.classes, errors)


def test_metrics_added_batch_by_batch_equal_the_whole_batchs() -> None:
    info = TaskInfo("regression", "rmse", False)
    rng = np.random.default_rng(0)
    truth = rng.normal(size=40).astype(object)
    truth[[5, 30]] = [None, "not a number"]
    values = rng.normal(size=40).astype(object)
    values[[7, 33]] = None  # rows the model failed: no prediction, left out of its score
    outputs = [_Output("m", values, errors={7: "failed", 33: "failed"}), _Output("n", rng.normal(size=40))]
    scorer = TargetScorer(info, "y")
    for start, stop in ((0, 16), (16, 17), (17, 40)):
        scorer.add(truth[start:stop], [output.rows(start, stop) for output in outputs])
    assert scorer.result().to_dict() == score_target(info, "y", truth, outputs).to_dict()
    assert scorer.result().to_dict()["models"]["m"]["rows"] == 36
