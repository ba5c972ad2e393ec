"""The EDA report says what cleaning did, per column, and links back to the app that serves it (only there)."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import pandas as pd
import pytest

from adaptml.eda import explore
from adaptml.eda.cleaning import cleaning_tables
from adaptml.training import clean

from .conftest import base_frame


@pytest.fixture(scope="module")
def cleaned() -> tuple[pd.DataFrame, dict]:
    """A raw table with an ID column, a constant, '?' markers, text numbers, missing targets and repeated rows."""
    raw = base_frame(200).reset_index(names="booking_id")
    raw["hotel"] = "grand"
    raw["nights"] = raw["nights"].map(lambda v: f" {v:g} ").where(raw.index % 40 != 0, "?")
    raw["price"] = raw["price"].where(raw.index % 50 != 7)
    raw = pd.concat([raw, raw.iloc[:5].assign(booking_id=range(1000, 1005))], ignore_index=True)
    typed, report = clean(raw, "price")
    return typed, report.to_dict()


def test_the_tables_list_drops_markers_types_and_counts(cleaned) -> None:
    _, report = cleaned
    tables = {title: (headers, rows) for title, headers, rows in cleaning_tables(report)}
    counts = dict(tables["What cleaning did"][1])
    assert counts["Rows without a target"] == "4 dropped"
    assert counts["Duplicate rows"] == "5 exact repeats removed (after ID-like columns)"
    dropped = dict(tables["Columns dropped"][1])
    assert dropped == {"booking_id": "ID-like (a distinct value per row)", "hotel": "constant"}
    missing = {row[0]: row[1:] for row in tables["Missing values"][1]}
    assert missing["nights"][0] == "'?' × 6" and int(missing["nights"][1]) >= 4  # raw rows: row 0 is repeated
    types = {row[0]: row[1:] for row in tables["Types and text"][1]}
    assert types["nights"][0] == "numeric" and "parsed as numeric (stored as text)" in types["nights"][1]
    assert "whitespace stripped from" in types["nights"][1] and types["room"] == ["categorical", "—"]


def test_the_report_shows_the_cleaning_section_and_relative_app_links(cleaned) -> None:
    typed, report = cleaned
    html = explore(typed, target="price", task="regression", title="T", cleaning=report).files["report.html"].decode()
    section = html.split('<section id="cleaning">', 1)[1].split("</section>", 1)[0]
    for title in ("What cleaning did", "Columns dropped", "Missing values", "Types and text"):
        assert f"<h3>{title}</h3>" in section
    assert "<td>booking_id</td><td>ID-like (a distinct value per row)</td>" in section
    assert f"<td>nights</td><td>{escape(repr('?'))} × 6</td>" in section
    links = re.findall(r'<a href="([^"#]*)">', html.split("</nav>", 1)[0])
    assert links == ["../", "../leaderboard", "../diagnostics"]  # from <app>/eda/ these reach the app's pages
    bare = explore(typed, target="price", task="regression", title="T", app_link=None).files["report.html"].decode()
    assert 'id="app-links"' not in bare and "No cleaning report was given" in bare


@pytest.mark.browser
def test_opened_as_a_file_the_app_links_hide(browser, cleaned, tmp_path: Path) -> None:
    typed, report = cleaned
    path = tmp_path / "report.html"
    path.write_bytes(explore(typed, target="price", task="regression", title="T", cleaning=report).files["report.html"])
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        assert not page.get_by_test_id("app-links").is_visible()  # nothing to go back to from a file
        assert page.locator("#cleaning h3").count() == 4
    finally:
        context.close()
