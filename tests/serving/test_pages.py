"""The server-rendered pages: the generated form, results, downloads, leaderboard, EDA report and docs."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

RECORD = {"size": "80", "rooms": "3", "city": "lyon", "listed": "2023-06-01"}


def upload(client, data: bytes, name: str = "batch.csv"):
    return client.post("/upload", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def download_link(html: str) -> str:
    match = re.search(r'id="download-csv" href="([^"]+)"', html)
    assert match, "no Download CSV link"
    return match.group(1).replace("&amp;", "&")


def test_form_is_generated_from_the_schema_and_prefilled_with_the_example(client, registry):
    schema = registry.load().json("schema.json")
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "version v1" in html
    size = next(c for c in schema["columns"] if c["name"] == "size")
    example = schema["example"]
    assert (
        f'name="size" type="number" value="{example["size"]:g}" data-seen-min="{size["min"]!r}" '
        f'data-seen-max="{size["max"]!r}" placeholder="{size["min"]:.6g} to {size["max"]:.6g}" step="any"'
    ) in html
    assert f'name="rooms" type="number" value="{example["rooms"]}" data-seen-min="1" data-seen-max="6"' in html
    assert re.search(
        rf'name="listed" type="date" value="{example["listed"]}" data-seen-min="2023-01-0\d" '
        r'data-seen-max="2024-1\d-\d\d"',
        html,
    )
    assert not re.search(r'<input[^>]* (min|max)="', html), "the observed range must not bound the inputs"
    for city in ("paris", "lyon", "nice", "lille"):
        assert f'<option value="{city}"' in html
    assert f'<option value="{example["city"]}" selected>' in html
    assert 'enctype="multipart/form-data"' in html and 'type="file"' in html
    assert "Leaderboard" in html and 'href="/eda/"' in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "https://" not in html and "http://cdn" not in html


def test_form_submission_shows_every_model_ordered_by_rank_with_metric(client, published):
    html = client.post("/predict", data=RECORD).get_data(as_text=True)
    ranked = [row["model"] for row in published.metadata["leaderboard"]]
    headers = re.findall(r'data-key="([a-z_]+)_prediction"', html)
    assert headers == ranked
    assert "#1 · rmse" in html and 'data-testid="engine">directly<' in html
    expected = published.pipelines[ranked[0]].predict(pd.DataFrame([RECORD]))[0]
    assert f'title="{float(expected)!r}"' in html


def test_download_is_exactly_the_table_the_api_returns(client, published):
    html = client.post("/predict", data=RECORD).get_data(as_text=True)
    downloaded = client.get(download_link(html))
    assert downloaded.status_code == 200 and downloaded.mimetype == "text/csv"
    assert "homes-v1-predictions.csv" in downloaded.headers["Content-Disposition"]
    api = client.post(
        "/api/v1/predict",
        data=pd.DataFrame([RECORD]).to_csv(index=False),
        content_type="text/csv",
        headers={"Accept": "text/csv"},
    )
    assert downloaded.data == api.data


def test_large_upload_previews_the_first_rows_and_downloads_them_all(client, published):
    frame = published.features.head(20)
    html = upload(client, frame.to_csv(index=False).encode()).get_data(as_text=True)
    assert "Showing the first 5 of 20 rows. The CSV has all of them." in html
    assert 'data-testid="engine">on the Dask cluster<' in html
    assert html.count('<td class="rownum">') == 5
    table = pd.read_csv(io.BytesIO(client.get(download_link(html)).data))
    assert len(table) == 20
    pd.testing.assert_series_equal(
        table["ridge_prediction"], pd.Series(published.pipelines["ridge"].predict(frame), name="ridge_prediction")
    )


def test_extra_columns_and_failing_cells_are_shown(client, published):
    frame = published.features.head(3).assign(note="x")
    frame.loc[1, "city"] = "atlantis"
    html = upload(client, frame.to_csv(index=False).encode()).get_data(as_text=True)
    assert re.search(r"Ignored 1 column the models do not use:\s*<code>note</code>", html)
    assert '<td class="cell-error col-model" title="ValueError: Found unknown categories [&#39;atlantis&#39;]' in html


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"", 400, "the uploaded file is empty"),
        (b"size,rooms\n", 400, "the uploaded file has a header but no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", 415, "the uploaded file is not CSV text"),
        (b"size,rooms,city\n1,2,nice\n", 400, "missing column &#39;listed&#39;"),
        (
            b"size,rooms,city,listed\n1,2,nice,2023-01-01\nbig,2,nice,2023-01-01\n",
            400,
            "row 2, column &#39;size&#39;: expected a number, got &#39;big&#39;",
        ),
        (b"a\n" + b"1\n" * 501, 413, "more than 500 records"),
    ],
)
def test_bad_uploads_get_an_html_error_page(client, data, status, message):
    response = upload(client, data)
    assert response.status_code == status and response.mimetype == "text/html"
    assert message in response.get_data(as_text=True)
    assert "Back to the form" in response.get_data(as_text=True)


def test_no_file_chosen(client):
    response = client.post("/upload", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "choose a CSV file" in response.get_data(as_text=True)


def test_script_tags_are_escaped_everywhere(client, published):
    evil = "<script>alert(1)</script>"
    bad = upload(client, f"size,rooms,city,listed\n{evil},2,nice,2023-01-01\n".encode()).get_data(as_text=True)
    assert evil not in bad and "&lt;script&gt;alert(1)&lt;/script&gt;" in bad
    shown = client.post("/predict", data={**RECORD, "city": evil}).get_data(as_text=True)
    assert evil not in shown and "&lt;script&gt;" in shown
    named = client.get("/eda/<script>.png").get_data(as_text=True)
    assert evil not in named and "<script>" not in named.split("<main")[1]


def test_downloaded_csv_neutralises_formulas(client):
    rows = [
        {**RECORD, "city": '=HYPERLINK("http://evil","x")'},
        {**RECORD, "city": "@SUM(A1:A2)"},
        {**RECORD, "city": "+cmd|' /C calc'!A0"},
        {**RECORD, "city": "-2+3"},
        {**RECORD, "city": "\tTAB"},
    ]
    html = upload(client, pd.DataFrame(rows).to_csv(index=False).encode()).get_data(as_text=True)
    text = client.get(download_link(html)).get_data(as_text=True)
    table = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert table["city"].tolist() == [
        '\'=HYPERLINK("http://evil","x")',
        "'@SUM(A1:A2)",
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "'\tTAB",
    ]
    assert (table["size"] == 80).all()  # numbers stay numbers
    api = client.post("/api/v1/predict", json=rows, headers={"Accept": "text/csv"}).get_data(as_text=True)
    assert api == text


def test_unknown_download_token_is_404(client):
    assert client.get("/results/abcdefghijklmnopqrstuvwx.csv").status_code == 404
    assert client.get("/results/..%2F..%2Fetc.csv").status_code == 404


def test_leaderboard_page_and_metrics_csv(client, published):
    html = client.get("/leaderboard").get_data(as_text=True)
    for row in published.metadata["leaderboard"]:
        assert f'<td class=" ">{row["model"]}</td>' in html or row["model"] in html
        assert f"{row['rmse']:.5g}" in html
    assert "lower is better" in html and 'href="/eda/"' in html
    csv = client.get("/leaderboard.csv")
    assert csv.data == published.files["metrics.csv"]


def test_eda_report_and_plots_come_from_the_loaded_version(client, published):
    report = client.get("/eda/")
    assert report.status_code == 200 and report.data == published.files["eda/report.html"]
    plot = client.get("/eda/plots/target.png")
    assert plot.mimetype == "image/png" and plot.data == published.files["eda/plots/target.png"]
    assert client.get("/eda/plots/none.png").status_code == 404


def test_docs_page_lists_every_endpoint(client):
    html = client.get("/docs").get_data(as_text=True)
    for path in (
        "/api/v1/predict",
        "/invocations",
        "/api/v1/models",
        "/api/v1/schema",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ):
        assert f"<code>{path}</code>" in html
    assert "curl -X POST" in html


def test_template_csv_has_the_schema_columns_and_example(client, registry):
    schema = registry.load().json("schema.json")
    table = pd.read_csv(io.BytesIO(client.get("/template.csv").data))
    assert list(table.columns) == [c["name"] for c in schema["columns"]] and len(table) == 1


def test_pages_ask_for_json_get_json_errors(client):
    response = client.post(
        "/upload", data={}, content_type="multipart/form-data", headers={"Accept": "application/json"}
    )
    assert response.status_code == 400 and response.get_json()["message"] == "choose a CSV file to upload"


def test_the_baseline_ranks_on_the_leaderboard_but_is_not_offered_as_an_answer(
    registry, classification_bundle, settings
):
    import pickle

    from sklearn.dummy import DummyClassifier

    from adaptml.serving import create_app

    bundle = classification_bundle
    features, target = bundle.frame.drop(columns=["price", "segment"]), bundle.frame["segment"]
    dummy = DummyClassifier(strategy="prior").fit(features, target)
    board = [*bundle.metadata["leaderboard"], {"rank": 3, "model": "dummy", "accuracy": 0.4}]
    metrics = pd.DataFrame(board).to_csv(index=False).encode()
    files = {**bundle.files, "models/dummy.pkl": pickle.dumps(dummy), "metrics.csv": metrics}
    registry.publish("v1", files, {**bundle.metadata, "leaderboard": board})
    app = create_app(settings, registry=registry)
    try:
        client = app.test_client()
        assert ">dummy<" in client.get("/leaderboard").get_data(as_text=True)
        html = client.post("/predict", data=RECORD).get_data(as_text=True)
        cards = html.split('data-testid="model-cards"', 1)[1].split("</section>", 1)[0]
        assert "logistic_regression" in cards and "dummy" not in cards
        assert 'data-key="dummy_prediction"' in html  # the table and its CSV still carry every model
    finally:
        app.extensions["adaptml"].store.close()


def test_a_value_beyond_the_observed_range_is_accepted_and_scored_with_a_visible_warning(client, published):
    page = client.get("/").get_data(as_text=True)
    size_input = re.search(r'<input[^>]*name="size"[^>]*>', page)
    assert size_input and " max=" not in size_input.group(0) and " min=" not in size_input.group(0)
    record = {"size": "950", "rooms": "3", "city": "paris", "listed": "2024-03-01"}
    response = client.post("/predict", data=record)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="model-cards"' in html
    assert 'data-testid="input-warnings"' in html
    assert "row 1, column &#39;size&#39;: 950 is above the training maximum" in html


def test_a_form_error_keeps_what_the_user_typed(client, published):
    record = {"size": "not a number", "rooms": "4", "city": "nice", "listed": "2024-03-01"}
    response = client.post("/predict", data=record)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'data-testid="form-error"' in html and "size" in html
    assert 'name="size" type="number" value="not a number"' in html
    assert 'name="rooms" type="number" value="4"' in html
    assert '<option value="nice" selected>' in html


def test_a_single_record_result_explains_each_model(client, published):
    html = client.post("/predict", data=RECORD).get_data(as_text=True)
    (ridge,) = re.findall(r"<strong>ridge</strong>.*?</article>", html, flags=re.S)
    assert 'data-testid="explanation"' in ridge and "<meter" in ridge
    assert "Why: not available for random_forest." in html
    labels = re.findall(r'<span class="contrib-label">(\w+)</span>', ridge.split('data-testid="explanation"')[1])
    assert set(labels) <= set(RECORD), labels


def test_the_stylesheet_script_and_icon_are_served(client, published):
    """Static files come with an inline Content-Disposition, which the unsafe-name check must let through."""
    assets = {"/static/style.css": "text/css", "/static/app.js": "javascript", "/static/favicon.svg": "svg"}
    for path, kind in assets.items():
        response = client.get(path)
        assert response.status_code == 200 and kind in response.content_type and response.data, path
