"""Diagnostics and versions, end to end: the real pipeline trains two versions of a sample of the bundled adult
dataset (Luigi, embedded S3), the app serves them, and the pages (and real Chromium) show what training stored."""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.serving.conftest import make_settings
from werkzeug.serving import make_server

from adaptml.config import parse_config
from adaptml.datasets import read_bundled
from adaptml.pipeline import train
from adaptml.registry import Registry
from adaptml.serving import create_app
from adaptml.storage import Storage

SCREENSHOTS_ENV = "ADAPTML_SCREENSHOTS"
VIEWPORTS = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}


@dataclass(frozen=True)
class Trained:
    registry: Registry
    first: str
    second: str


@pytest.fixture(scope="module")
def trained(s3_client: object) -> Trained:
    """Two versions of the same project trained by the real pipeline: two models, then three."""
    storage = Storage(s3_client)
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    storage.ensure_bucket(bucket)
    sample = read_bundled("adult").sample(n=1000, random_state=0)
    storage.put_bytes(f"s3://{bucket}/data/adult.csv", sample.to_csv(index=False).encode())
    versions = []
    for models in (["ridge", "lightgbm"], ["ridge", "lightgbm", "random_forest"]):
        config = {
            "project": "adult",
            "data": {"uri": f"s3://{bucket}/data/adult.csv", "target": "income"},
            "models": models,
            "registry": f"s3://{bucket}/registry",
            "tuning": {"cv_folds": 3},
            "time_budget_seconds": 0,  # every listed model trains, however loaded the machine
        }
        versions.append(train(parse_config(config), storage=storage, workers=1).version)
    return Trained(Registry(f"s3://{bucket}/registry", "adult", storage=storage), versions[0], versions[1])


@pytest.fixture(scope="module")
def diag_app(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = make_settings(trained.registry, tmp_path_factory.mktemp("results"), preview_rows=10)
    app = create_app(settings, registry=trained.registry)
    yield app
    app.extensions["adaptml"].store.close()


@pytest.fixture
def diag_client(diag_app: Any) -> Any:
    return diag_app.test_client()


def test_training_publishes_diagnostics_json_listed_in_the_manifest(trained: Trained) -> None:
    loaded = trained.registry.load()
    assert loaded.version == trained.second and "diagnostics.json" in loaded.manifest["files"]
    figures = loaded.json("diagnostics.json")
    board = [row["model"] for row in loaded.manifest["leaderboard"]]
    assert figures["models"] == board and set(board) == {"dummy", "ridge", "lightgbm", "random_forest", "ensemble"}
    assert figures["task"] == "classification" and figures["metric"] == "roc_auc"
    best = figures["per_model"][board[0]]
    assert best["roc"]["auc"] == pytest.approx(loaded.manifest["leaderboard"][0]["roc_auc"], abs=1e-3)
    counts = best["thresholds"]
    assert sum(map(sum, best["confusion"])) == figures["test_rows"] == counts["tp"][0] + counts["fp"][0]
    assert abs(sum(figures["ensemble_weights"].values()) - 1) < 1e-9
    assert figures["comparison"]["rows"][0]["tied_with_best"] and figures["comparison"]["rows"][0]["pickle_bytes"] > 0


def test_importance_is_measured_on_the_test_split_without_feature_selection(trained: Trained) -> None:
    loaded = trained.registry.load()
    importance = loaded.json("diagnostics.json")["importance"]
    assert importance["source"] == "held-out" and importance["model"] == loaded.manifest["leaderboard"][0]["model"]
    columns = [column["name"] for column in loaded.json("schema.json")["columns"]]
    assert set(importance["features"]) == set(columns)  # a feature is an input column
    assert importance["rows"] <= 2000 and importance["passes"] >= 1 and importance["seconds"] >= 0
    assert importance["gain_model"] == "lightgbm" and sum(importance["gain_share"]) == pytest.approx(1, abs=1e-3)
    assert max(importance["permutation"]) > 0 and importance["dropped"] == []  # selection is off by default


def test_diagnostics_page_embeds_the_figures_and_plotly_is_served_locally(diag_client: Any, trained: Trained) -> None:
    page = diag_client.get("/diagnostics")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="diagnostics-data"' in html and "/vendor/plotly.min.js" in html
    assert "cdn" not in html.lower() and 'data-testid="tie-summary"' in html
    embedded = json.loads(html.split('id="diagnostics-data">', 1)[1].split("</script>", 1)[0])
    assert embedded == diag_client.get("/diagnostics.json").get_json()
    bundle = diag_client.get("/vendor/plotly.min.js")
    assert bundle.status_code == 200 and bundle.mimetype == "text/javascript" and len(bundle.data) > 1_000_000
    older = diag_client.get(f"/diagnostics?version={trained.first}").get_data(as_text=True)
    assert f'data-testid="diagnostics-version">{trained.first}<' in older
    assert diag_client.get("/diagnostics?version=nope").status_code == 404
    assert 'data-testid="diagnostics-link"' in diag_client.get("/leaderboard").get_data(as_text=True)


def test_a_version_without_diagnostics_says_so(client: Any, published: Any) -> None:
    page = client.get("/diagnostics")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="no-diagnostics"' in html and "plotly" not in html
    assert client.get("/diagnostics.json").status_code == 404


def test_versions_api_lists_every_version_and_the_live_one(diag_client: Any, trained: Trained) -> None:
    body = diag_client.get("/api/v1/versions").get_json()
    assert body["live"] == body["served"] == trained.second and body["project"] == "adult"
    rows = body["versions"]
    assert [row["version"] for row in rows] == [trained.second, trained.first]  # newest first
    assert [row["live"] for row in rows] == [True, False] and all(row["has_diagnostics"] for row in rows)
    assert rows[1]["models"] == 4 and rows[0]["models"] == 5 and rows[0]["metric"] == "roc_auc"
    assert rows[0]["best_score"] > 0.5 and rows[0]["best_model"] and rows[0]["published_at"]


def test_versions_page_compares_two_leaderboards(diag_client: Any, trained: Trained) -> None:
    html = diag_client.get("/versions").get_data(as_text=True)
    assert html.count('data-version="') == 2 and "live" in html
    compared = diag_client.get(f"/versions?compare={trained.first},{trained.second}").get_data(as_text=True)
    assert 'id="comparison-table"' in compared and "random_forest" in compared
    ticked = diag_client.get(f"/versions?pick={trained.first}&pick={trained.second}")
    assert ticked.status_code == 200 and 'id="comparison-table"' in ticked.get_data(as_text=True)
    assert diag_client.get(f"/versions?compare={trained.first},v0").status_code == 404
    assert diag_client.get(f"/versions?pick={trained.first}").status_code == 400


# -- real Chromium ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def diag_url(diag_app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, diag_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _open(browser: Any, url: str, viewport: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url)
    return context, page, problems


def _page_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


@pytest.mark.browser
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_diagnostics_plots_render_and_the_slider_moves_the_matrix(browser, diag_url, viewport, tmp_path) -> None:
    context, page, problems = _open(browser, diag_url + "/diagnostics", viewport)
    try:
        for plot in ("comparison", "roc", "pr", "calibration", "importance", "weights"):
            page.wait_for_selector(f"[data-testid=plot-{plot}] svg.main-svg", timeout=20_000)
            assert page.locator(f"[data-testid=plot-{plot}] .plot-container").count() == 1
        assert page.locator("[data-testid=plot-roc] .scatterlayer .trace").count() >= 2
        bars = page.locator("[data-testid=plot-importance] .barlayer .trace")
        assert bars.count() == 2 and bars.first.locator("path").count() >= 5  # permutation and gain share
        assert "Permutation importance of the best model" in page.get_by_test_id("importance-method").inner_text()
        cells = page.locator("#confusion-table td")
        assert cells.count() == 4
        before = cells.all_inner_texts()
        page.fill("#threshold", "90")
        assert page.locator("#threshold-value").inner_text() == "0.90"
        after = cells.all_inner_texts()
        total = lambda texts: sum(int(t.replace(",", "")) for t in texts)  # noqa: E731
        assert after != before and total(after) == total(before)
        page.click("#best-f1")
        assert "F1" in page.get_by_test_id("threshold-metrics").inner_text()
        assert _page_width(page) <= VIEWPORTS[viewport]["width"]
        _shot(page, tmp_path, f"diagnostics-{viewport}")
        assert problems == []
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_versions_page_lists_and_compares_versions(browser, diag_url, trained, viewport, tmp_path) -> None:
    context, page, problems = _open(browser, diag_url + "/versions", viewport)
    try:
        rows = page.locator("#versions-table tbody tr")
        assert rows.count() == 2 and "live" in rows.first.inner_text()
        page.check(f"input[value='{trained.first}']")
        page.check(f"input[value='{trained.second}']")
        page.click("#compare-button")
        page.wait_for_selector("#comparison-table")
        assert page.locator("#comparison-table tbody tr").count() == 5
        assert _page_width(page) <= VIEWPORTS[viewport]["width"]
        _shot(page, tmp_path, f"versions-{viewport}")
        assert problems == []
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_result_cards_show_whole_class_labels_and_no_baseline(browser, diag_url, viewport, tmp_path) -> None:
    context, page, problems = _open(browser, diag_url + "/", viewport)
    try:
        assert _page_width(page) <= VIEWPORTS[viewport]["width"]
        page.click("#record-form button[type=submit]")
        page.wait_for_selector("#results-table")
        labels = page.locator(".prob-label")
        assert set(labels.all_inner_texts()) == {"<=50K", ">50K"}
        assert labels.evaluate_all("els => els.every(e => e.scrollWidth <= e.clientWidth)")
        cards = page.get_by_test_id("model-cards").locator("article")
        assert cards.count() == 4 and "dummy" not in page.get_by_test_id("model-cards").inner_text()
        assert _page_width(page) <= VIEWPORTS[viewport]["width"]
        _shot(page, tmp_path, f"result-{viewport}")
        assert problems == []
    finally:
        context.close()


@pytest.fixture
def regression_app(registry: Registry, regression_bundle: Any, settings: Any) -> Iterator[Any]:
    """The serving tests' regression bundle, with the diagnostics training would compute on its held-out rows."""
    from adaptml.training.diagnostics import diagnose
    from adaptml.training.task import TaskInfo

    test = regression_bundle.frame.iloc[120:]
    features = test.drop(columns=["price", "segment"])
    outputs = {name: pipe.predict(features) for name, pipe in regression_bundle.pipelines.items()}
    board = regression_bundle.metadata["leaderboard"]
    figures = diagnose(test["price"], outputs, TaskInfo("regression", "rmse", False), board=board)
    files = {**regression_bundle.files, "diagnostics.json": json.dumps(figures).encode()}
    registry.publish("v1", files, regression_bundle.metadata)
    app = create_app(settings, registry=registry)
    yield app
    app.extensions["adaptml"].store.close()


@pytest.fixture
def regression_url(regression_app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, regression_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.mark.browser
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_regression_diagnostics_draw_scatter_residuals_and_ranges(browser, regression_url, viewport, tmp_path) -> None:
    context, page, problems = _open(browser, regression_url + "/diagnostics", viewport)
    try:
        for plot in ("comparison", "scatter", "residuals", "ranges"):
            page.wait_for_selector(f"[data-testid=plot-{plot}] svg.main-svg", timeout=20_000)
        assert page.locator("[data-testid=plot-scatter] .scatterlayer .point").count() == 40
        page.select_option("#model-select", "ridge")
        assert "ridge" in page.locator("#model-select").input_value()
        assert _page_width(page) <= VIEWPORTS[viewport]["width"]
        _shot(page, tmp_path, f"diagnostics-regression-{viewport}")
        assert problems == []
    finally:
        context.close()


@pytest.mark.browser
def test_the_eda_report_says_what_cleaning_did_and_links_back_to_the_app(browser, diag_url, tmp_path) -> None:
    context, page, _ = _open(browser, diag_url + "/eda/", "desktop")
    try:
        assert page.get_by_test_id("app-links").is_visible()
        assert "What cleaning did" in page.locator("#cleaning").inner_text()
        _shot(page, tmp_path, "eda-report")
        page.get_by_text("← Back to the app").click()
        page.wait_for_url(diag_url + "/")
        assert page.locator("#record-form").count() == 1
    finally:
        context.close()


def _column(page: Any, key: str) -> list[str]:
    """The cells of one results-table column as shown, top to bottom (full precision where the title has it)."""
    return page.locator("#results-table").evaluate(
        """(table, key) => {
            const index = Array.from(table.tHead.rows[0].cells).findIndex(th => th.dataset.key === key);
            return Array.from(table.tBodies[0].rows).map(tr => tr.cells[index].title || tr.cells[index].textContent);
        }""",
        key,
    )


@pytest.mark.browser
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_batch_result_is_summarised_pinned_rounded_and_sortable(browser, diag_url, viewport, tmp_path) -> None:
    rows = read_bundled("adult").drop(columns=["Unnamed: 0", "income"]).sample(n=10, random_state=3)
    source = tmp_path / "batch.csv"
    rows.to_csv(source, index=False)
    context, page, problems = _open(browser, diag_url + "/", viewport)
    try:
        page.set_input_files("#csv-file", str(source))
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#results-table")
        summary = page.get_by_test_id("result-summary")
        assert summary.is_visible() and "Summary of 10 rows" in summary.inner_text()
        assert "models disagree on" in page.get_by_test_id("summary-disagreements").inner_text()
        assert "near the threshold" in page.get_by_test_id("summary-near-threshold").inner_text()
        assert page.locator("#summary-table tbody tr").count() == 5  # every model, the baseline too
        keys = page.locator("#results-table thead th[data-key]").evaluate_all("ths => ths.map(th => th.dataset.key)")
        assert keys[:3] == ["age", "workclass", "education"]  # the input columns first
        assert page.locator("#results-table th[data-key=age]").evaluate("th => th.classList.contains('stuck')")
        best = page.locator("#summary-table tbody th").first.inner_text()
        probability = f"{best}_proba_>50K"
        shown = page.locator(f"#results-table td[title]:nth-child({keys.index(probability) + 2})").all_inner_texts()
        assert len(shown) == 10 and all(re.fullmatch(r"[01]\.\d{3}", text) for text in shown)  # 3 decimals
        page.locator("#results-table th[data-key=age] button").click()
        ages = [float(v) for v in _column(page, "age")]
        assert ages == sorted(ages) and ages != [float(v) for v in rows["age"]]
        page.locator("#results-table th[data-key=age] button").click()
        assert [float(v) for v in _column(page, "age")] == sorted(ages, reverse=True)
        page.locator(f'#results-table th[data-key="{probability}"] button').focus()
        page.keyboard.press("Enter")  # a keyboard user sorts too
        values = [float(v) for v in _column(page, probability)]
        assert values == sorted(values)
        assert page.locator(f'#results-table th[data-key="{probability}"]').get_attribute("aria-sort") == "ascending"
        assert _page_width(page) <= VIEWPORTS[viewport]["width"]
        page.locator("#results-table th[data-key=age] button").click()  # back to a readable order for the picture
        page.locator("#results-table").evaluate(  # the predictions beside the pinned inputs, as a user scrolls
            """table => {
                const stuck = Array.from(table.querySelectorAll("thead th.stuck"));
                const pinned = stuck.reduce((width, th) => width + th.offsetWidth, 0);
                const scroller = table.parentElement, first = table.querySelector("thead th.col-model");
                const offset = first.getBoundingClientRect().left - scroller.getBoundingClientRect().left;
                scroller.scrollLeft += offset - pinned;
            }"""
        )
        _shot(page, tmp_path, f"result-batch-{viewport}")
        assert problems == []
    finally:
        context.close()
