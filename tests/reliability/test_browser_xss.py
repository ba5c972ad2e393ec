"""A real Chromium loads the results pages for HTML/script payloads in an uploaded CSV and in the form fields.

The page's Content-Security-Policy would block inline script anyway, so the browser context bypasses CSP: what is
proved is that the payloads are escaped, not merely blocked. No dialog opens, no payload sets ``window.__xss``,
and each payload shows as the literal text it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CORPUS = Path(__file__).parents[1] / "data" / "bad"
FORM_PAYLOAD = '"><img src=x onerror="window.__xss=\'form\'"><script>window.__xss="form"</script>'


@pytest.fixture
def watched_page(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A fresh CSP-bypassing context and page from the session's shared browser, recording any dialog."""
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    yield page, dialogs
    context.close()


def _assert_inert(page: Any, dialogs: list[str]) -> None:
    page.wait_for_timeout(300)  # let any injected onerror/onload handler fire
    assert page.evaluate("window.__xss") is None
    assert dialogs == []


def test_script_in_uploaded_cells_and_column_names_stays_text(watched_page, base_url):
    page, dialogs = watched_page
    page.goto(base_url + "/")
    page.set_input_files("#csv-file", str(CORPUS / "html_script.csv"))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#results-table")
    _assert_inert(page, dialogs)
    table = page.locator("#results-table").inner_text()
    for payload in ("<script>window.__xss=1</script>", '<img src=x onerror="window.__xss=2">', '"><svg onload'):
        assert payload in table
    assert "<img src=x onerror=alert('col')>" in page.locator("[data-testid=extra-columns]").inner_text()


def test_script_in_form_fields_stays_text(watched_page, base_url):
    page, dialogs = watched_page
    page.goto(base_url + "/")
    page.evaluate(
        """payload => {
            const city = document.querySelector('[name=city]');
            const option = document.createElement('option');
            option.value = payload; city.appendChild(option); city.value = payload;
        }""",
        FORM_PAYLOAD,
    )
    page.click("#record-form button[type=submit]")
    page.wait_for_selector("[data-testid=model-cards]")
    _assert_inert(page, dialogs)
    assert FORM_PAYLOAD in page.locator("#results-table").inner_text()
