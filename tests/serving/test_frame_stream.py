"""A parsed frame answered as CSV above ``api.STREAM_ROWS`` rows (a multipart upload, a CSV body read whole) is
scored batch by batch in threads, as a streamed upload is (``streaming.stream_frame``).

The thresholds are lowered so a few hundred rows make several batches: every row of every model is answered, the
same as the JSON answer (labels equal, class probabilities to float tolerance), and a bad value in any batch,
however late, is still a 400 naming its row and column before the first byte (every batch is validated first).
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.serving.conftest import frame_to_csv

from adaptml.serving import api, streaming

ROWS = 230


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "STREAM_ROWS", 50)  # a frame of more rows is answered batch by batch
    monkeypatch.setattr(streaming, "FIRST_ROWS", 7)
    monkeypatch.setattr(streaming, "FRAME_BATCH_ROWS", 40)  # 7 rows, then six batches of 40 or fewer


def _upload(client: Any, body: bytes, accept: str = "text/csv") -> Any:
    files = {"file": (io.BytesIO(body), "batch.csv", "text/csv")}
    return client.post("/api/v1/predict", data=files, content_type="multipart/form-data", headers={"Accept": accept})


def test_a_multipart_csv_answered_as_csv_is_every_row_of_every_model_as_the_json_answer(
    classification_client, classification_bundle, small_batches
):
    frame = classification_bundle.features.sample(ROWS, replace=True, random_state=5).reset_index(drop=True)
    body = frame_to_csv(frame)
    answer = _upload(classification_client, body)
    assert answer.status_code == 200 and answer.mimetype == "text/csv" and answer.is_streamed
    assert answer.headers["X-Adaptml-Version"] == "v1"
    table = pd.read_csv(io.BytesIO(answer.get_data()))
    rows = _upload(classification_client, body, accept="application/json").get_json()["rows"]
    assert len(table) == len(rows) == ROWS
    for info in classification_bundle.metadata["leaderboard"]:
        name = info["model"]
        expected = [row["predictions"][name] for row in rows]
        assert [str(label) for label in table[f"{name}_prediction"]] == [str(label) for label in expected]
        for label in (c.removeprefix(f"{name}_proba_") for c in table.columns if c.startswith(f"{name}_proba_")):
            proba = [row["probabilities"][name][label] for row in rows]
            np.testing.assert_allclose(table[f"{name}_proba_{label}"], proba, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(table[frame.columns].to_numpy(dtype=str), frame.to_numpy(dtype=str))


def test_the_batched_answer_is_the_table_of_the_whole_frame(client, published, small_batches, monkeypatch):
    frame = published.features.sample(ROWS, replace=True, random_state=6).reset_index(drop=True)
    batched = _upload(client, frame_to_csv(frame))
    monkeypatch.setattr(api, "STREAM_ROWS", 10 * ROWS)
    whole = _upload(client, frame_to_csv(frame))
    assert batched.is_streamed and batched.status_code == whole.status_code == 200
    got, expected = (pd.read_csv(io.BytesIO(answer.get_data())) for answer in (batched, whole))
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_a_bad_value_in_the_last_batch_is_a_400_before_the_first_byte(client, published, small_batches):
    frame = published.features.sample(ROWS, replace=True, random_state=7).reset_index(drop=True)
    frame["size"] = frame["size"].astype(object)
    frame.loc[ROWS - 3, "size"] = "huge"
    response = _upload(client, frame_to_csv(frame))
    assert response.status_code == 400
    assert f"row {ROWS - 2}, column 'size'" in response.get_json()["message"]


def test_json_records_answered_as_csv_are_batched_as_a_frame_is(client, published, small_batches):
    frame = published.features.sample(ROWS, replace=True, random_state=8).reset_index(drop=True)
    records = {"records": json.loads(frame.to_json(orient="records"))}
    answer = client.post("/api/v1/predict", json=records, headers={"Accept": "text/csv"})
    assert answer.status_code == 200 and answer.is_streamed
    table = pd.read_csv(io.BytesIO(answer.get_data()))
    assert len(table) == ROWS
    for name, pipeline in published.pipelines.items():
        np.testing.assert_allclose(table[f"{name}_prediction"], pipeline.predict(frame))
