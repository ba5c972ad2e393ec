"""Formula injection in downloaded CSVs, and HTML/script in cells and form fields on the pages.

A cell starting with =, +, -, @, tab or carriage return is run by a spreadsheet as a formula; every CSV the app
hands out (the results download, the API's CSV answer, the template) must prefix such text cells with a quote and
leave numbers as numbers. Text from the input (cells, column names, form fields, model error messages quoting a
value) must reach the pages escaped: the rendered HTML holds no element or attribute that came from the input.
A real browser check is in test_browser_xss.py.
"""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).parents[1] / "data" / "bad"
RISKY = ("=", "+", "-", "@", "\t", "\r")
PAYLOADS = ("<script>", "onerror=", "<svg", "<img")


def _upload(client: Any, name: str) -> Any:
    return client.post("/upload", data={"file": (io.BytesIO((CORPUS / name).read_bytes()), name)})


def _download(client: Any, page: Any) -> list[dict[str, str]]:
    link = re.search(r'href="(/results/[^"]+)"', page.get_data(as_text=True))
    assert link, "the results page links its CSV"
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _assert_no_formula(rows: list[dict[str, str]]) -> None:
    for row in rows:
        for column, value in row.items():
            assert not str(column).startswith(RISKY), column
            if value and value.startswith(RISKY):
                float(value)  # only a number may start with '-' (a negative prediction)


def test_the_downloaded_results_neutralise_formulas(client):
    rows = _download(client, _upload(client, "formula_injection.csv"))
    assert [row["city"] for row in rows] == ["'=cmd|' /C calc'!A0", "'+1+1", "'-2+3", "'@SUM(A1:A9)", "'\tTAB=1"]
    _assert_no_formula(rows)


def test_the_api_csv_answer_and_the_template_neutralise_formulas(client):
    answer = client.post(
        "/api/v1/predict",
        data=(CORPUS / "formula_injection.csv").read_bytes(),
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
    )
    _assert_no_formula(list(csv.DictReader(io.StringIO(answer.get_data(as_text=True)))))
    template = client.get("/template.csv")
    _assert_no_formula(list(csv.DictReader(io.StringIO(template.get_data(as_text=True)))))


def test_negative_numbers_stay_numbers_in_the_download(client):
    data = b"size,rooms,city,listed\n-5,2,paris,2023-02-01\n"
    answer = client.post("/api/v1/predict", data=data, headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    row = next(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert row["size"] == "-5.0" or row["size"] == "-5"


class _Elements(HTMLParser):
    """Every start tag and attribute of a page, as the browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_no_injected_markup(html: str) -> None:
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag not in ("svg", "iframe", "object", "embed"), tag
        if tag == "script":
            assert (dict(attrs).get("src") or "").startswith("/static/"), attrs
        if tag == "img":
            assert dict(attrs).get("src") != "x", attrs
        assert not [name for name, _ in attrs if name.startswith("on")], (tag, attrs)
    assert "&lt;script&gt;" in html or "&lt;img" in html  # the payload is shown, as text


def test_html_in_cells_and_column_names_is_escaped_on_the_results_page(client):
    page = _upload(client, "html_script.csv")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert_no_injected_markup(html)
    assert "&lt;img src=x onerror=alert(&#39;col&#39;)&gt;" in html  # the extra column's name, as text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("city", "<script>window.__xss=1</script>", 200),
        ("city", '"><img src=x onerror="window.__xss=2">', 200),
        ("size", "<img src=x onerror=alert(1)>", 400),
        ("listed", "</textarea><script>alert(1)</script>", 400),
    ],
)
def test_html_in_form_fields_is_escaped_on_results_and_error_pages(client, field, value, status):
    form = {"size": "50.5", "rooms": "2", "city": "paris", "listed": "2023-02-01", field: value}
    page = client.post("/predict", data=form)
    assert page.status_code == status and page.mimetype == "text/html"
    assert_no_injected_markup(page.get_data(as_text=True))


def test_a_download_name_cannot_inject_headers(client):
    page = _upload(client, "wrong_delimiter_semicolon.csv")
    link = re.search(r'href="(/results/[^"?]+)', page.get_data(as_text=True))
    assert link
    response = client.get(link.group(1) + '?name=x"%0d%0aSet-Cookie:%20a=b;.csv')
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert response.headers["Content-Disposition"] == 'attachment; filename="xSet-Cookieab.csv"'
