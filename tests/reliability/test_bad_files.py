"""The bad-file corpus (tests/data/bad) through every way a file comes in: a CSV body, a multipart file to the API,
and the upload form. Each file either predicts or is refused with a 4xx whose message says what is wrong (and, where
it can, the row and column). Files too big to commit, 10,000 columns, are generated here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

CORPUS = Path(__file__).parents[1] / "data" / "bad"
HEADER = "size,rooms,city,listed"
# file -> (status, a fragment of the message for a refusal / the number of rows for a prediction)
EXPECTED: dict[str, tuple[int, str | int]] = {
    "wrong_delimiter_semicolon.csv": (200, 2),
    "tab_separated.csv": (200, 1),
    "wrong_delimiter_decimal_comma.csv": (400, "row 1, column 'size': expected a number, got '50,5'"),
    "no_header.csv": (400, "a CSV needs a header row naming the columns"),
    "duplicated_columns.csv": (400, "column 'size' appears twice (columns 1 and 5)"),
    "non_utf8_cp1252.csv": (200, 2),
    "invalid_utf8_bytes.csv": (200, 1),
    "bom_utf8.csv": (200, 1),
    "bom_utf16_excel_unicode_text.csv": (200, 1),
    "quoted_newlines.csv": (200, 2),
    "ragged_rows.csv": (400, "row 2 has 6 values, but the header names 4 columns"),
    "surplus_leading_values.csv": (400, "row 1 has more values than the header has column names (4)"),
    "formula_injection.csv": (200, 5),
    "html_script.csv": (200, 3),
    "binary_png.csv": (415, "not CSV text (it looks like a binary file)"),
    "empty.csv": (400, "empty"),
    "whitespace_only.csv": (400, "empty"),
    "header_only.csv": (400, "has a header but no data rows"),
    "unterminated_quote.csv": (400, "a quoted value is never closed"),
    "out_of_range_date.csv": (400, "row 1, column 'listed': expected a date"),
    "infinite_number.csv": (400, "row 1, column 'size': expected a finite number"),
}


def test_the_corpus_is_complete():
    assert sorted(path.name for path in CORPUS.glob("*.csv")) == sorted(EXPECTED)


def post_csv(client: Any, data: bytes, accept: str = "application/json") -> Any:
    return client.post("/api/v1/predict", data=data, headers={"Content-Type": "text/csv", "Accept": accept})


def _three_ways(client: Any, data: bytes, name: str) -> tuple[Any, Any, Any]:
    body = client.post("/api/v1/predict", data=data, headers={"Content-Type": "text/csv"})
    multipart = client.post("/api/v1/predict", data={"file": (io.BytesIO(data), name)})
    page = client.post("/upload", data={"file": (io.BytesIO(data), name)})
    return body, multipart, page


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_file_predicts_or_says_what_is_wrong(client, name):
    status, expected = EXPECTED[name]
    body, multipart, page = _three_ways(client, (CORPUS / name).read_bytes(), name)
    assert (body.status_code, multipart.status_code, page.status_code) == (status, status, status)
    if status == 200:
        assert body.get_json()["row_count"] == multipart.get_json()["row_count"] == expected
        assert "Predictions" in page.get_data(as_text=True)
        return
    assert expected in body.get_json()["message"] and expected in multipart.get_json()["message"]
    assert page.mimetype == "text/html" and "error" in page.get_data(as_text=True).lower()


def test_encodings_are_read_as_the_spreadsheet_wrote_them(client):
    for name, city in (("non_utf8_cp1252.csv", "Orléans"), ("bom_utf16_excel_unicode_text.csv", "paris")):
        assert city in post_csv(client, (CORPUS / name).read_bytes(), "text/csv").get_data(as_text=True)
    bom = post_csv(client, (CORPUS / "bom_utf8.csv").read_bytes(), "text/csv").get_data(as_text=True)
    assert bom.splitlines()[0].count("size") == 1 and "\ufeff" not in bom


def test_quoted_newlines_stay_inside_their_cell(client):
    answer = post_csv(client, (CORPUS / "quoted_newlines.csv").read_bytes(), "text/csv")
    assert answer.status_code == 200

    cities = pd.read_csv(io.BytesIO(answer.get_data()))["city"].tolist()
    assert cities == ["par\nis", 'lyon, "centre"']


def _wide_csv(columns: int, *, with_schema: bool) -> bytes:
    extras = [f"extra_{index}" for index in range(columns - (4 if with_schema else 0))]
    header = ([HEADER] if with_schema else []) + extras
    row = (["50.5,2,paris,2023-02-01"] if with_schema else []) + ["1"] * len(extras)
    return (",".join(header) + "\n" + ",".join(row) + "\n").encode()


def test_ten_thousand_columns_predict_and_the_extras_are_reported_briefly(client):
    data = _wide_csv(10_000, with_schema=True)
    body, multipart, page = _three_ways(client, data, "wide.csv")
    answer = body.get_json()
    assert body.status_code == multipart.status_code == page.status_code == 200
    assert answer["row_count"] == 1 and len(answer["extra_columns_ignored"]) == 9_996
    html = page.get_data(as_text=True)
    assert "Ignored 9996 columns" in html and "and 9976 more" in html
    assert len(html) < 200_000  # the page lists 20 of them, not all


def test_ten_thousand_unknown_columns_are_refused_with_a_short_message(client):
    response = post_csv(client, _wide_csv(10_000, with_schema=False))
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert "none of the model's columns" in message and "and 9995 more" in message and len(message) < 400


def test_a_json_record_with_ten_thousand_keys_predicts(client):
    record = {"size": 50.5, "rooms": 2, "city": "paris", "listed": "2023-02-01"}
    record.update({f"extra_{index}": index for index in range(9_996)})
    response = client.post("/api/v1/predict", data=json.dumps(record), headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and len(response.get_json()["extra_columns_ignored"]) == 9_996


def test_records_with_disjoint_keys_are_refused_before_becoming_a_huge_frame(registry, regression, make_app):
    """20,000 one-key records with different keys: 300 kB of JSON that would be a 20,000 x 20,000 frame."""
    registry.publish("v1", regression.files, regression.metadata)
    client = make_app(registry, max_rows=100_000).test_client()
    body = json.dumps([{f"key_{index}": 1} for index in range(20_000)])
    response = client.post("/api/v1/predict", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "20,000 different keys" in response.get_json()["message"]


def test_a_flood_of_empty_objects_is_refused_before_parsing(client):
    """'[{},{},...]' costs ~60 bytes of memory per byte of JSON once parsed: counted first, refused as too many rows."""
    body = b"[" + b"{}," * 300_000 + b"{}]"  # 900 kB, under the 1 MB limit of these tests; max_rows is 500
    response = client.post("/api/v1/predict", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "serving.max_rows" in response.get_json()["message"]


def test_records_missing_some_columns_are_still_fine(client):
    full = {"size": 50.5, "rooms": 2, "city": "paris", "listed": "2023-02-01"}
    records = [full, {**full, "note": "x"}, {k: v for k, v in full.items() if k != "rooms"}]
    response = client.post("/api/v1/predict", json=records)
    assert response.status_code == 200 and response.get_json()["row_count"] == 3
