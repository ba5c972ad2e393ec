"""A batch that carries the target column is scored and each model's metrics on it are shown (PyCaret's
``predict_model``): in the JSON API, on the results page (and in a real Chromium), never feeding the target in."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.serving.conftest import frame_to_csv

from adaptml.registry import Registry
from adaptml.serving import create_app
from adaptml.serving.target_metrics import score_target
from adaptml.training.evaluation import all_metrics
from adaptml.training.task import TaskInfo


class _Cells(HTMLParser):
    """The text of every cell of one table, row by row (the stdlib parser: no lxml needed)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("id", self.table_id) in attrs:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell += data


def _html_table(html: str, table_id: str) -> pd.DataFrame:
    parser = _Cells(table_id)
    parser.feed(html)
    header, *rows = parser.rows
    return pd.DataFrame(rows, columns=header)


def _rmse(truth: np.ndarray, predicted: list[float]) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted, dtype="float64") - truth) ** 2)))


def test_the_api_returns_metrics_per_model_and_ignores_the_target_as_input(client: Any, published: Any) -> None:
    batch = published.frame.drop(columns=["segment"]).iloc[:15].copy()
    batch["price"] = batch["price"].astype(object)
    batch.loc[[2, 7], "price"] = [None, ""]  # missing targets: skipped and counted
    with_target = client.post("/api/v1/predict", data=frame_to_csv(batch), content_type="text/csv").get_json()
    without = client.post(
        "/api/v1/predict", data=frame_to_csv(batch.drop(columns=["price"])), content_type="text/csv"
    ).get_json()
    assert [r["predictions"] for r in with_target["rows"]] == [r["predictions"] for r in without["rows"]]
    assert "metrics" not in without and with_target["extra_columns_ignored"] == []
    metrics = with_target["metrics"]
    assert metrics["target"] == "price" and metrics["metric"] == "rmse" and metrics["higher_is_better"] is False
    assert metrics["rows_scored"] == 13
    assert metrics["rows_skipped"] == {"missing_target": 2, "unusable_target": 0}
    kept = [i for i in range(15) if i not in (2, 7)]
    truth = published.frame["price"].to_numpy()[kept]
    for name in (row["model"] for row in published.metadata["leaderboard"]):
        predicted = [with_target["rows"][i]["predictions"][name] for i in kept]
        assert metrics["models"][name]["rows"] == 13
        assert metrics["models"][name]["rmse"] == pytest.approx(_rmse(truth, predicted), rel=1e-5)
        assert {"mae", "r2"} <= set(metrics["models"][name])


def test_json_records_with_the_target_are_scored(client: Any, published: Any) -> None:
    records = published.frame.drop(columns=["segment"]).iloc[:3].to_dict("records")
    records[1]["price"] = "not a price"  # counted as unusable, not an error: the models still answer
    body = client.post("/api/v1/predict", json=records).get_json()
    assert body["metrics"]["rows_scored"] == 2
    assert body["metrics"]["rows_skipped"] == {"missing_target": 0, "unusable_target": 1}


def test_classification_labels_match_across_spellings_and_unknown_ones_are_counted() -> None:
    info = TaskInfo("classification", "accuracy", True, (0, 1))

    class Output:
        name, classes, errors = "m", (0, 1), {3: "failed"}
        predictions = np.array([0, 1, 1, None], dtype=object)
        probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [np.nan, np.nan]])

    scored = score_target(info, "y", ["0", 1.0, "2", 1], [Output()])
    assert scored.rows == 3 and scored.skipped_unknown == 1  # "2" is no class of the models
    (model,) = scored.scores
    assert model.rows == 2  # row 4 failed for this model
    expected = all_metrics(info, np.array([0, 1], dtype=object), Output.probabilities[:2])
    assert model.metrics == pytest.approx(expected, nan_ok=True)


@pytest.fixture
def classification_app(registry: Registry, settings_for: Any, classification_bundle: Any) -> Iterator[Any]:
    registry.publish("v1", classification_bundle.files, classification_bundle.metadata)
    app = create_app(settings_for(registry), registry=registry)
    yield app
    app.extensions["adaptml"].store.close()


def test_a_classification_upload_shows_the_metrics_table(classification_app: Any, classification_bundle: Any) -> None:
    batch = classification_bundle.frame.drop(columns=["price"]).iloc[:20]
    upload = {"file": (io.BytesIO(frame_to_csv(batch)), "labelled.csv")}
    page = classification_app.test_client().post("/upload", data=upload, content_type="multipart/form-data")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="upload-metrics"' in html and 'id="upload-metrics-table"' in html
    table = _html_table(html, "upload-metrics-table")
    assert set(table["model"]) == {row["model"] for row in classification_bundle.metadata["leaderboard"]}
    assert {"accuracy", "roc_auc", "f1"} <= set(table.columns) and (table["rows"] == "20").all()
    truth = batch["segment"].to_numpy()
    for name, pipeline in classification_bundle.pipelines.items():
        shown = float(table.loc[table["model"] == name, "accuracy"].iloc[0])
        assert shown == pytest.approx(float(np.mean(pipeline.predict(batch) == truth)), abs=1e-4)


def test_no_metrics_section_without_the_target(client: Any, published: Any) -> None:
    upload = {"file": (io.BytesIO(frame_to_csv(published.features.iloc[:4])), "plain.csv")}
    html = client.post("/upload", data=upload, content_type="multipart/form-data").get_data(as_text=True)
    assert "upload-metrics" not in html


@pytest.mark.browser
def test_the_browser_shows_each_models_metrics_after_a_labelled_upload(browser, base_url, published, tmp_path):
    source = tmp_path / "labelled.csv"
    published.frame.drop(columns=["segment"]).iloc[:12].to_csv(source, index=False)
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        page.set_input_files("#csv-file", str(source))
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#upload-metrics-table")
        folder = Path(os.environ.get("ADAPTML_SCREENSHOTS") or tmp_path)  # set it to keep the picture for a human
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "result-labelled-upload.png"), full_page=True)
        section = page.get_by_test_id("upload-metrics")
        assert section.is_visible() and page.get_by_test_id("metrics-rows").inner_text() == "12"
        rows = page.locator("#upload-metrics-table tbody tr")
        assert rows.count() == len(published.metadata["leaderboard"])
        headers = page.locator("#upload-metrics-table thead th").all_inner_texts()
        assert headers[:3] == ["model", "rows", "rmse"]
        best = float(rows.first.locator("td").nth(2).inner_text())  # best first: the lowest rmse
        assert best == min(
            float(t) for t in page.locator("#upload-metrics-table tbody td:nth-child(3)").all_inner_texts()
        )
    finally:
        context.close()


def test_the_predict_command_prints_the_metrics_in_80_columns(app: Any, published: Any) -> None:
    from rich.console import Console

    from adaptml.serving.batch import metrics_table
    from adaptml.serving.predict import predict_all

    models = app.extensions["adaptml"].store.get()
    batch = published.frame.drop(columns=["segment"]).iloc[:8]
    console = Console(width=80, record=True)
    table = metrics_table(predict_all(models, batch))
    assert table is not None
    console.print(table)
    text = console.export_text()
    assert "metrics on 8 rows with a price" in text and "rmse" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert metrics_table(predict_all(models, batch.drop(columns=["price"]))) is None
