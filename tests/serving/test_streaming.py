"""Big CSV answers are streamed chunk by chunk: the same table as one piece, and bad input is still a 4xx."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from tests.serving.conftest import frame_to_csv

from adaptml.serving import api

CHUNK = 40


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "STREAM_ROWS", CHUNK)


def _post(client, body: bytes):
    return client.post("/api/v1/predict", data=body, headers={"Content-Type": "text/csv", "Accept": "text/csv"})


def test_a_streamed_answer_is_the_whole_results_table(client, published, small_chunks):
    frame = published.features.sample(3 * CHUNK + 7, replace=True, random_state=0).reset_index(drop=True)
    response = _post(client, frame_to_csv(frame))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    assert 'filename="homes-v1-predictions.csv"' in response.headers["Content-Disposition"]
    assert response.headers["X-Adaptml-Version"] == "v1"
    table = pd.read_csv(io.BytesIO(response.get_data()))
    assert len(table) == len(frame)
    ranked = [row["model"] for row in published.metadata["leaderboard"]]
    assert list(table.columns) == [*(f"{name}_prediction" for name in ranked), *frame.columns]
    for name in ranked:
        np.testing.assert_allclose(table[f"{name}_prediction"], published.pipelines[name].predict(frame))


def test_a_bad_value_in_a_later_chunk_is_a_400_naming_its_row(client, published, small_chunks):
    frame = published.features.sample(3 * CHUNK, replace=True, random_state=0).reset_index(drop=True)
    frame["size"] = frame["size"].astype(object)
    frame.loc[2 * CHUNK + 4, "size"] = "huge"
    response = _post(client, frame_to_csv(frame))
    assert response.status_code == 400
    assert f"row {2 * CHUNK + 5}, column 'size'" in response.get_json()["message"]
