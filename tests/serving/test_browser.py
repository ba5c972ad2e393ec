"""A real Chromium drives the pages: fill the form and read the table, upload a CSV and download the result."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests

pytestmark = pytest.mark.browser

SCREENSHOTS_ENV = "ADAPTML_SCREENSHOTS"  # set to a directory to keep the screenshots for a human to look at


@pytest.fixture
def page(browser, tmp_path: Path) -> Iterator[object]:
    """A fresh context and page per test, from the session's shared browser (tests/conftest.py)."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def table_frame(page) -> pd.DataFrame:
    """The results table as the user sees it: header keys and the visible cell texts."""
    keys = page.locator("#results-table thead th[data-key]").evaluate_all("ths => ths.map(th => th.dataset.key)")
    rows = page.locator("#results-table tbody tr").evaluate_all(
        "trs => trs.map(tr => Array.from(tr.querySelectorAll('td')).slice(1).map(td => td.title || td.textContent))"
    )
    return pd.DataFrame(rows, columns=keys)


def test_fill_the_form_and_read_the_table(page, base_url, published, tmp_path):
    page.goto(base_url + "/")
    assert page.get_by_test_id("served-version").inner_text().endswith("version v1")
    screenshot(page, tmp_path, "form")
    page.fill("input[name=size]", "95.5")
    page.fill("input[name=rooms]", "4")
    page.select_option("select[name=city]", "paris")
    page.fill("input[name=listed]", "2024-03-15")
    page.click("#record-form button[type=submit]")
    page.wait_for_selector("#results-table")
    screenshot(page, tmp_path, "result-one")
    record = pd.DataFrame([{"size": 95.5, "rooms": 4, "city": "paris", "listed": "2024-03-15"}])
    shown = table_frame(page)
    ranked = [row["model"] for row in published.metadata["leaderboard"]]
    assert list(shown.columns) == ["size", "rooms", "city", "listed", *(f"{m}_prediction" for m in ranked)]
    assert shown.loc[0, "city"] == "paris" and shown.loc[0, "listed"] == "2024-03-15"
    for name in ranked:
        assert float(shown.loc[0, f"{name}_prediction"]) == pytest.approx(published.pipelines[name].predict(record)[0])
    cards = page.get_by_test_id("model-cards").locator("article")
    assert cards.count() == len(ranked) and ranked[0] in cards.first.inner_text()


def test_upload_a_csv_and_download_what_the_api_returns(page, base_url, published, tmp_path):
    frame = published.features.iloc[:12].copy()
    frame.loc[frame.index[3], "city"] = "atlantis"  # one failing cell travels through the whole path
    source = tmp_path / "batch.csv"
    frame.assign(comment="=1+1").to_csv(source, index=False)
    page.goto(base_url + "/")
    page.set_input_files("#csv-file", str(source))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#results-table")
    screenshot(page, tmp_path, "result-batch")
    assert "on the Dask cluster" in page.get_by_test_id("engine").inner_text()
    assert "Showing the first 5 of 12 rows" in page.get_by_test_id("preview-note").inner_text()
    assert "comment" in page.get_by_test_id("extra-columns").inner_text()
    assert page.locator("td.cell-error").count() == 1
    summary = page.get_by_test_id("result-summary").inner_text()
    assert "Summary of 12 rows" in summary and "min" in summary and "median" in summary  # regression: distributions
    with page.expect_download() as info:
        page.click("#download-csv")
    download = info.value
    downloaded = Path(download.path()).read_bytes()
    assert download.suggested_filename == "homes-v1-predictions.csv"
    api = requests.post(
        base_url + "/api/v1/predict",
        data=source.read_bytes(),
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
        timeout=60,
    )
    assert api.status_code == 200 and downloaded == api.content
    table = pd.read_csv(io.BytesIO(downloaded))
    assert len(table) == 12 and table["ridge_prediction"].iloc[3].startswith("error: ValueError")


def test_leaderboard_and_bad_upload_pages_render(page, base_url, tmp_path):
    page.goto(base_url + "/leaderboard")
    assert page.locator("#leaderboard-table tbody tr").count() == 3
    screenshot(page, tmp_path, "leaderboard")
    bad = tmp_path / "bad.csv"
    bad.write_text("size,rooms,city,listed\n<b>big</b>,2,nice,2023-01-01\n")
    page.goto(base_url + "/")
    page.set_input_files("#csv-file", str(bad))
    page.click("#upload-form button[type=submit]")
    message = page.get_by_test_id("error-message").inner_text()
    assert message == "row 1, column 'size': expected a number, got '<b>big</b>'"
    assert page.locator("main b").count() == 0  # shown as text, never as markup
    screenshot(page, tmp_path, "error")


def test_the_pages_fit_a_phone_screen(browser, base_url, published, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        for path in ("/", "/leaderboard", "/versions", "/diagnostics"):
            page.goto(base_url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        page.goto(base_url + "/")
        page.click("#record-form button[type=submit]")
        page.wait_for_selector("#results-table")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, tmp_path, "result-phone")
    finally:
        context.close()


def test_a_value_beyond_the_training_range_submits_and_is_flagged_and_explained(page, base_url, published, tmp_path):
    page.goto(base_url + "/")
    page.fill("input[name=size]", "950")  # far above the observed maximum: the browser must not refuse it
    assert page.locator("input[name=size]").evaluate("input => input.checkValidity()")
    page.click("#record-form button[type=submit]")
    page.wait_for_selector("#results-table")
    note = page.get_by_test_id("input-warnings")
    assert note.is_visible() and "950 is above the training maximum" in note.inner_text()
    why = page.get_by_test_id("explanation").first
    assert why.is_visible() and why.locator("meter").count() > 0
    screenshot(page, tmp_path, "result-warned-explained")
