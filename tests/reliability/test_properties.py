"""Property tests on input parsing: any JSON or CSV body either predicts or is refused with a 4xx, never a 5xx.

Generated inputs range from arbitrary JSON values and arbitrary bytes to near-valid records and CSV files whose
cells, names, delimiters, encodings and line endings vary; a 200 must hold one answer per record sent.
"""

from __future__ import annotations

import io
import json
import string
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adaptml.errors import InputError
from adaptml.serving.parsing import parse_body
from adaptml.serving.predict import predict_all

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

COLUMNS = ("size", "rooms", "city", "listed")
FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
good_cells = {
    "size": st.floats(min_value=1, max_value=500, allow_nan=False) | st.sampled_from(["42", "42.5", " 7 ", ""]),
    "rooms": st.integers(min_value=0, max_value=12) | st.sampled_from(["3", "", None]),
    "city": st.sampled_from(["paris", "lyon", "nice", "lille", "", "atlantis"]) | st.none(),
    "listed": st.dates(date(1950, 1, 1), date(2100, 1, 1)).map(str) | st.sampled_from(["01/02/2024", "", None]),
}
any_cell = scalars | st.lists(scalars, max_size=2) | st.sampled_from(["=1+1", "<b>x</b>", "NaN", "inf", "1e400"])


@st.composite
def near_records(draw: st.DrawFn) -> dict[str, Any]:
    """A record whose every column is usually valid, sometimes anything, sometimes missing; extras appear."""
    record: dict[str, Any] = {}
    for name in COLUMNS:
        choice = draw(st.integers(0, 39))
        if choice < 36:
            record[name] = draw(good_cells[name])
        elif choice < 39:
            record[name] = draw(any_cell)
    if draw(st.integers(0, 3)) == 0:
        record.update(draw(st.dictionaries(st.text(max_size=6), any_cell, max_size=2)))
    return record


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',;\t"\n\r') else text


@st.composite
def csv_bodies(draw: st.DrawFn) -> bytes:
    """CSV files: the schema's header (shuffled, cut, extended or absent), near-valid rows, varied dialects."""
    header = list(draw(st.permutations(COLUMNS)))[: draw(st.sampled_from([4, 4, 4, 4, 3, 0]))]
    header += draw(st.lists(st.text(string.printable, max_size=6), max_size=2)) if draw(st.booleans()) else []
    rows = draw(st.lists(near_records(), min_size=draw(st.sampled_from([1, 1, 1, 0])), max_size=6))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    headed = draw(st.sampled_from([True, True, True, False])) or not rows
    lines = [delimiter.join(_csv_cell(name) for name in header)] if headed else []
    lines += [delimiter.join(_csv_cell(row.get(name)) for name in header) for row in rows]
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    return text.encode(encoding, errors="replace")


def _post(client: Any, body: bytes, content_type: str) -> Any:
    return client.post("/api/v1/predict", data=body, headers={"Content-Type": content_type})


def _assert_predicts_or_4xx(response: Any, records: int | None = None) -> None:
    assert response.status_code == 200 or 400 <= response.status_code < 500, response.get_data()[:500]
    body = response.get_json()
    if response.status_code == 200:
        assert records is None or body["row_count"] == records
        assert len(body["rows"]) == body["row_count"]
    else:
        assert body["error_code"] and body["message"]


@FUZZ
@given(payload=json_values)
def test_any_json_value_predicts_or_is_a_4xx(client, payload):
    _assert_predicts_or_4xx(_post(client, json.dumps(payload).encode(), "application/json"))


@FUZZ
@given(records=st.lists(near_records(), min_size=1, max_size=8), shape=st.sampled_from(["list", "records", "split"]))
def test_near_valid_records_predict_or_name_what_is_wrong(client, records, shape):
    if shape == "split":
        columns = list(dict.fromkeys(key for record in records for key in record))
        payload: Any = {"dataframe_split": {"columns": columns, "data": [[r.get(c) for c in columns] for r in records]}}
    else:
        payload = records if shape == "list" else {"records": records}
    response = _post(client, json.dumps(payload).encode(), "application/json")
    _assert_predicts_or_4xx(response, len(records))


@FUZZ
@given(body=csv_bodies())
def test_any_csv_file_predicts_or_is_a_4xx(client, body):
    _assert_predicts_or_4xx(_post(client, body, "text/csv"))
    upload = client.post("/upload", data={"file": (io.BytesIO(body), "batch.csv")})
    assert upload.status_code == 200 or 400 <= upload.status_code < 500


@FUZZ
@given(body=st.binary(max_size=400), content_type=st.sampled_from(["application/json", "text/csv", "text/plain"]))
def test_arbitrary_bytes_predict_or_are_a_4xx(client, body, content_type):
    _assert_predicts_or_4xx(_post(client, body, content_type))


@settings(FUZZ, max_examples=60)
@given(records=st.lists(near_records(), min_size=1, max_size=5))
def test_the_core_only_ever_raises_input_error(app, records):
    """Below HTTP: parsing and the prediction core return a result or raise InputError, nothing else."""
    models = app.extensions["adaptml"].store.get()
    try:
        frame = parse_body(json.dumps(records).encode(), "application/json", max_rows=100)
        result = predict_all(models, frame)
    except InputError as error:
        assert 400 <= error.status_code < 500 and str(error)
        return
    assert result.row_count == len(records)
    assert all(len(output.predictions) == len(records) for output in result.outputs)
