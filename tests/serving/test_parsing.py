"""Input parsing is pure: bytes and a content type in, a frame or an InputError naming what is wrong out."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from adaptml.datasets import read_bundled
from adaptml.errors import InputError, PayloadTooLarge, UnsupportedMediaType
from adaptml.serving.arrow_csv import ARROW_CSV_BYTES, read_arrow_csv
from adaptml.serving.parsing import parse_body, parse_csv, parse_form, records_frame

RECORD = {"size": 50.5, "rooms": 2, "city": "paris", "listed": "2023-02-01"}


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    "payload",
    [
        RECORD,
        [RECORD, RECORD],
        {"records": [RECORD, RECORD]},
        {"dataframe_records": [RECORD, RECORD]},
        {"instances": [RECORD, RECORD]},
        {"dataframe_split": {"columns": list(RECORD), "data": [list(RECORD.values())] * 2}},
    ],
    ids=["object", "list", "records", "dataframe_records", "instances", "dataframe_split"],
)
def test_every_json_shape_becomes_rows(payload):
    frame = parse_body(body(payload), "application/json; charset=utf-8", max_rows=10)
    assert list(frame.columns) == list(RECORD)
    assert frame.iloc[0].to_dict() == RECORD
    assert len(frame) == (1 if payload is RECORD else 2)


def test_csv_body_is_typed_like_training_read_it():
    frame = parse_body(b"size,rooms,city,listed\n50.5,2,paris,2023-02-01\n", "text/csv", max_rows=10)
    assert frame.iloc[0].to_dict() == RECORD


@pytest.mark.parametrize(
    ("data", "content_type", "error", "message"),
    [
        (b"", "application/json", InputError, "empty request body"),
        (b"  \n", "text/csv", InputError, "empty request body"),
        (b"{not json", "application/json", InputError, "not valid JSON: Expecting property name"),
        (b"42", "application/json", InputError, "expected a JSON object or a list of objects, got a number"),
        (b"[]", "application/json", InputError, "the list is empty"),
        (b'[{"a": 1}, 3]', "application/json", InputError, "row 2: expected a JSON object, got a number"),
        (b'{"records": {"a": 1}}', "application/json", InputError, "'records' must be a list of objects"),
        (b'{"a": 1, "b": [1, 2]}', "application/json", InputError, "row 1, column 'b': expected a single value"),
        (
            b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}',
            "application/json",
            InputError,
            "row 1: expected 2 values",
        ),
        (b"a,b\n1,2\n", "application/xml", UnsupportedMediaType, "unsupported content type 'application/xml'"),
        (b"a,b\n1,2\n", None, UnsupportedMediaType, "unsupported content type 'none'"),
    ],
)
def test_bad_bodies_name_the_problem(data, content_type, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_body(data, content_type, max_rows=10)


def test_too_many_rows_is_413_naming_the_limit():
    with pytest.raises(PayloadTooLarge, match="more than 3 records .*serving.max_rows") as caught:
        records_frame([RECORD] * 4, max_rows=3)
    assert caught.value.status_code == 413
    with pytest.raises(PayloadTooLarge, match="more than 3"):
        parse_csv(b"a\n1\n2\n3\n4\n", max_rows=3)
    assert len(parse_csv(b"a\n1\n2\n3\n", max_rows=3)) == 3


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", InputError, "the upload is empty"),
        (b"size,rooms\n", InputError, "the upload has a header but no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", UnsupportedMediaType, "the upload is not CSV text"),
        (b'a,b\n1,2\n3,"4\n', InputError, "the upload is not a readable CSV"),
        (b"a,b\n1,2\n3,4,5,6\n", InputError, "the upload is not a readable CSV: row 2 has 4 values"),
    ],
)
def test_bad_csv_files(data, error, message):
    with pytest.raises(error, match=message):
        parse_csv(data, max_rows=10, source="the upload")


def test_csv_in_windows_encoding_and_with_bom():
    assert parse_csv("city\nmâcon\n".encode("cp1252"), max_rows=5)["city"].tolist() == ["mâcon"]
    assert list(parse_csv("\ufeffcity\nnice\n".encode(), max_rows=5).columns) == ["city"]


def test_form_fields_become_one_row_of_text():
    frame = parse_form({"size": "50", "city": "nice", "other": "x"}, ["size", "rooms", "city"])
    assert frame.to_dict("records") == [{"size": "50", "rooms": "", "city": "nice"}]


@pytest.mark.parametrize(
    "payload",
    [b'[{"a": 1}, {"a": "\\udaa8"}]', b'{"dataframe_split": {"columns": ["a"], "data": [[1], ["x\\udc00"]]}}'],
    ids=["records", "dataframe_split"],
)
def test_text_that_is_not_unicode_is_named(payload):
    with pytest.raises(InputError, match="row 2, column 'a': the text is not valid Unicode"):
        parse_body(payload, "application/json", max_rows=10)


def _read_both(data: bytes) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    text = data.decode("utf-8-sig") if data.isascii() or data.startswith(b"\xef\xbb\xbf") else data.decode("latin-1")
    sep = ";" if b"," not in data.split(b"\n", 1)[0] else ","
    return read_arrow_csv(data, text, sep), pd.read_csv(io.StringIO(text), sep=sep, low_memory=False)


@pytest.mark.parametrize("dataset", ["adult", "hotel_rates"])
def test_big_files_read_by_pyarrow_are_typed_as_pandas_types_them(dataset):
    data = read_bundled(dataset).head(5000).to_csv(index=False).encode()
    assert len(data) >= ARROW_CSV_BYTES
    arrow, pandas = _read_both(data)
    assert arrow is not None
    pd.testing.assert_frame_equal(arrow, pandas)
    pd.testing.assert_frame_equal(parse_csv(data, max_rows=10_000), pandas)


@pytest.mark.parametrize(
    "data",
    [
        b"a,b,c,d,e\n1,2021-01-02,x,True,\n,2021-01-03,NA,False,\n",  # dates stay text, an all-missing column
        "a;b\n1,5;m\xe2con\n2;\n".encode("cp1252"),
        b'a,b\n1,"x\ny"\n2,"=1"\n',
        b"a,b\n1.5,-nan\n2e3,None\n",
        b"a,b\nTrue,1\n,0\nfalse,2\n",
        "\ufeffa,b\n1,\xe9\n".encode(),
    ],
)
def test_pyarrow_reads_edge_cases_as_pandas_does(data):
    arrow, pandas = _read_both(data)
    assert arrow is not None
    pd.testing.assert_frame_equal(arrow, pandas)


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (b"3,4,5,6\n", "row 15001 has 4 values, but the header names 2 columns"),
        (b'3,"4\n', "a quoted value is never closed"),
    ],
)
def test_big_malformed_files_keep_their_messages(tail, message):
    data = b"a,b\n" + b"123456789,123456789\n" * 15000 + tail
    assert len(data) >= ARROW_CSV_BYTES
    with pytest.raises(InputError, match=message):
        parse_csv(data, max_rows=100_000, source="the upload")
