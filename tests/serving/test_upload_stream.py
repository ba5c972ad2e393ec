"""Big CSV bodies answered as CSV are read, scored and written batch by batch (serving/streaming.py).

The thresholds are lowered so a few hundred rows make several batches: the streamed answer is the same table as
the answer to the whole body, a bad value in the first batch is still a 400 naming its row and column, and one
found after the answer started ends it with an ``#error:`` trailer line after the complete rows before it.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from tests.serving.conftest import frame_to_csv

from adaptml.serving import create_app, csv_batches, limits

ROWS = 400


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "STREAM_BYTES", 1024)  # every body of a KiB or more is streamed
    monkeypatch.setattr(csv_batches, "BLOCK_BYTES", 2048)  # about 80 rows per batch


def _post(client, body: bytes, **headers: str):
    headers = {"Content-Type": "text/csv", "Accept": "text/csv", **headers}
    return client.post("/api/v1/predict", data=body, headers=headers)


def _frame(published, rows: int = ROWS) -> pd.DataFrame:
    return published.features.sample(rows, replace=True, random_state=3).reset_index(drop=True)


def test_a_streamed_upload_answers_the_same_table_as_the_whole_body(client, published, monkeypatch):
    body = frame_to_csv(_frame(published))
    whole = _post(client, body)
    monkeypatch.setattr(limits, "STREAM_BYTES", 1024)
    monkeypatch.setattr(csv_batches, "BLOCK_BYTES", 2048)
    streamed = _post(client, body)
    assert whole.status_code == streamed.status_code == 200
    assert streamed.is_streamed and streamed.headers["X-Adaptml-Version"] == "v1"
    assert 'filename="homes-v1-predictions.csv"' in streamed.headers["Content-Disposition"]
    expected = pd.read_csv(io.BytesIO(whole.get_data()))
    got = pd.read_csv(io.BytesIO(streamed.get_data()))
    assert list(got.columns) == list(expected.columns) and len(got) == ROWS
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_every_row_is_answered_by_every_model(client, published, small_batches):
    frame = _frame(published)
    response = _post(client, frame_to_csv(frame))
    table = pd.read_csv(io.BytesIO(response.get_data()))
    for name, pipeline in published.pipelines.items():
        np.testing.assert_allclose(table[f"{name}_prediction"], pipeline.predict(frame))


def test_a_bad_value_in_the_first_batch_is_a_400_naming_row_and_column(client, published, small_batches):
    frame = _frame(published)
    frame["size"] = frame["size"].astype(object)
    frame.loc[4, "size"] = "huge"
    response = _post(client, frame_to_csv(frame))
    assert response.status_code == 400
    assert "row 5, column 'size'" in response.get_json()["message"]


def test_a_bad_value_later_ends_the_answer_with_an_error_line(client, published, small_batches):
    frame = _frame(published)
    frame["size"] = frame["size"].astype(object)
    frame.loc[ROWS - 10, "size"] = "huge"
    response = _post(client, frame_to_csv(frame))
    assert response.status_code == 200  # the header was sent with the first batch
    lines = response.get_data().decode().splitlines()
    assert lines[-1].startswith("#error: ") and f"row {ROWS - 9}, column 'size'" in lines[-1]
    answered = pd.read_csv(io.StringIO("\n".join(lines[:-1])))
    assert 0 < len(answered) < ROWS - 10  # whole batches before the bad one, nothing after
    first = published.pipelines[next(iter(published.pipelines))]
    np.testing.assert_allclose(
        answered[f"{next(iter(published.pipelines))}_prediction"], first.predict(frame.iloc[: len(answered)])
    )


def test_too_many_rows_end_the_answer(registry, settings_for, published, small_batches):
    app = create_app(settings_for(registry, max_rows=150), registry=registry)
    try:
        response = _post(app.test_client(), frame_to_csv(_frame(published)))
    finally:
        app.extensions["adaptml"].store.close()
    last = response.get_data().decode().splitlines()[-1]
    assert last.startswith("#error: too many rows") and "150" in last


def test_a_missing_header_column_and_bad_text_are_4xx_before_streaming(client, published, small_batches):
    frame = _frame(published).drop(columns=["size", "rooms", "city", "listed"]).assign(other=1)
    assert _post(client, frame_to_csv(frame)).status_code == 400
    assert _post(client, b"").status_code == 400
    latin = frame_to_csv(_frame(published)).replace(b"paris", "pâris".encode("latin-1"))
    assert _post(client, latin).status_code == 200  # not UTF-8: read whole, answered as before
