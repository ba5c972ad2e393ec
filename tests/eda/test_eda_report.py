"""The report and its files: self-contained HTML, every section, valid PNGs, a JSON summary, a pure function."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from adaptml.eda import EdaResult, explore
from adaptml.eda import core as eda_core
from adaptml.eda.report import SECTIONS
from adaptml.errors import DataError

from .conftest import base_frame

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_report_loads_nothing_from_the_network(leaky_result: EdaResult) -> None:
    html = leaky_result.files["report.html"].decode()
    sources = re.findall(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?([^\"' >]+)", html, re.I)
    assert not [s for s in sources if s.lower().startswith(("http://", "https://", "//"))]
    assert html.count("* plotly.js v") == 1, "plotly.js must be inlined exactly once"


def test_the_report_has_every_section_and_the_leakage_evidence_first(leaky_result: EdaResult) -> None:
    html = leaky_result.files["report.html"].decode()
    for key, heading in SECTIONS.items():
        assert f'<section id="{key}"><h2>{heading}</h2>' in html
        assert f'href="#{key}"' in html
    evidence = leaky_result.leakage[0].evidence
    assert evidence in html
    assert html.index(evidence) < html.index('<section id="overview">')


def test_every_column_gets_a_valid_png(leaky_frame: pd.DataFrame, leaky_result: EdaResult) -> None:
    pngs = {path: data for path, data in leaky_result.files.items() if path != "report.html"}
    assert all(re.fullmatch(r"plots/[A-Za-z0-9_.-]+\.png", path) for path in pngs)
    assert all(data.startswith(PNG_SIGNATURE) and len(data) > 1000 for data in pngs.values())
    assert len([p for p in pngs if p.startswith("plots/dist_")]) == leaky_frame.shape[1]
    html = leaky_result.files["report.html"].decode()
    assert all(f'href="{path}"' in html or f'data-file="{path}"' in html for path in pngs)


def test_the_input_frame_is_left_unchanged() -> None:
    frame = base_frame(rows=300)
    frame.loc[frame.index[:30], "room"] = None
    before = frame.copy()
    explore(frame, target="price", task="regression", title="Untouched")
    pd.testing.assert_frame_equal(frame, before)


def test_the_summary_is_json_and_describes_the_data(leaky_frame: pd.DataFrame, leaky_result: EdaResult) -> None:
    summary = json.loads(json.dumps(leaky_result.summary))
    assert summary["rows"] == len(leaky_frame) and summary["columns"] == leaky_frame.shape[1]
    assert summary["types"] == {"numeric": 5, "categorical": 1, "datetime": 1}
    assert summary["column_types"]["arrival"] == "datetime"
    assert summary["missing_cells"] == 0 and summary["duplicate_rows"] == 0
    assert summary["related_features"][0][0] == "price_copy"
    assert summary["leakage_suspects"][0]["columns"] == ["price_copy"]


def test_big_frames_are_sampled_and_the_report_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eda_core, "SAMPLE_ROWS", 200)
    result = explore(base_frame(rows=500), target="price", task="regression", title="Sampled")
    assert result.summary["sampled"] and result.summary["sampled_rows"] == 200
    assert result.summary["rows"] == 500
    assert "seeded sample of 200 of 500 rows" in result.files["report.html"].decode()


def test_the_same_input_gives_the_same_files(clean_frame: pd.DataFrame, clean_result: EdaResult) -> None:
    again = explore(clean_frame, target="price", task="regression", title="Clean hotels")
    assert again.files == clean_result.files


def test_a_classification_report_with_missing_values_renders() -> None:
    frame = base_frame(rows=300)
    frame["room"] = frame["room"].where(frame.index % 7 != 0)
    frame["expensive"] = (frame["price"] > 120).map({True: "yes", False: "no"}).astype(object)
    result = explore(frame.drop(columns=["price"]), target="expensive", task="classification", title="Classes")
    html = result.files["report.html"].decode()
    assert "plots/missing_matrix.png" in result.files
    assert "Share of each expensive class by" in html
    assert result.summary["classes"].keys() == {"yes", "no"}


@pytest.mark.parametrize(
    ("target", "task", "message"),
    [
        ("nope", "regression", "'nope' is not in the data"),
        ("price", "clustering", "task must be one of"),
        ("room", "regression", "must be numeric"),
    ],
)
def test_unusable_input_is_a_data_error(target: str, task: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        explore(base_frame(rows=50), target=target, task=task, title="Bad")


def test_duplicate_column_names_are_a_data_error() -> None:
    frame = base_frame(rows=50)
    frame.columns = ["nights", "nights", "room", "lead_time", "arrival", "price"]
    with pytest.raises(DataError, match="duplicate column names: \\['nights'\\]"):
        explore(frame, target="price", task="regression", title="Bad")


def test_the_cleaning_report_is_shown_decision_by_decision() -> None:
    from html import escape

    from adaptml.training import clean

    raw = base_frame().reset_index(names="Unnamed: 0")
    raw["extras"] = ["none" if i % 3 else "breakfast" for i in range(len(raw))]
    raw["nights"] = raw["nights"].astype(str).where(raw.index % 50 != 0, "?")
    raw = pd.concat([raw, raw.iloc[:12].assign(**{"Unnamed: 0": range(1000, 1012)})], ignore_index=True)
    typed, report = clean(raw, "price")
    result = explore(typed, target="price", task="regression", title="Cleaned", cleaning=report.to_dict())

    details = {(line["decision"], line["detail"]) for line in result.summary["cleaning"]}
    assert ("Duplicate rows", "12 exact repeats removed (after ID-like columns)") in details
    assert ("Column dropped", "Unnamed: 0: ID-like (a distinct value per row)") in details
    assert ("Read as missing", "nights: '?' × 13") in details  # counted on the raw rows (row 0 twice)
    assert any(d == "Kept as category levels" and t.startswith("extras: 'none'") for d, t in details)
    html = result.files["report.html"].decode()
    assert f"<td>nights</td><td>{escape(repr('?'))} × 13</td>" in html  # the "Missing values" table
