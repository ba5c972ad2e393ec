"""How `python -m bench quality` keeps and reports its results, without training anything: runs update the dataset
records in place (cached peers survive an adaptml-only run), every tool's output is brought into one class order,
saved outputs are judged by paired bootstrap, and the table counts wins, ties and losses per opponent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from bench import quality_judge
from bench.corpus.datasets import by_name
from bench.corpus.scoring import aligned, class_order, hgb_output, label_text, read_split, score, truth_codes
from bench.peer_common import label_text as peer_label_text
from bench.peer_common import read_frame
from bench.peer_runs import PEERS, peer_names
from bench.quality import Plan, measure, merge, peer_budget
from bench.quality_report import table, tally, write_markdown


def test_peer_and_scoring_label_spellings_agree() -> None:
    for value in (1, 1.0, "1", True, "Yes", 2.5, np.float64(3.0)):
        assert peer_label_text(value) == label_text(value)


def test_peer_names_and_budgets() -> None:
    assert peer_names("") == tuple(PEERS) == ("flaml", "autogluon")
    assert peer_names("autogluon") == ("autogluon",)
    with pytest.raises(SystemExit, match="pycaret"):
        peer_names("flaml,pycaret")
    assert peer_budget({"adaptml": {"budget_seconds": 45.0}}, None) == 45.0
    assert peer_budget({"adaptml": {"budget_seconds": 45.0}}, 30.0) == 30.0
    assert peer_budget({}, None) == 60.0


def test_a_level_only_one_tool_knows_gets_a_column_and_scores_stay_the_same() -> None:
    (dataset,) = by_name("glass")
    test = pd.DataFrame({dataset.target: ["a", "b", "b", "a"]})
    order = class_order(dataset, test, ["a", "b"], ["a", "b", "NA"])
    assert order == ["NA", "a", "b"]
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3]])
    wide = aligned(proba, ["a", "b"], order)
    assert wide.shape == (4, 3) and not wide[:, 0].any()
    np.testing.assert_array_equal(truth_codes(dataset, test, order), [1, 2, 2, 1])


def test_a_peers_only_run_keeps_adaptml_and_an_adaptml_run_keeps_the_peers(tmp_path: Path) -> None:
    earlier = {
        "rows": 100,
        "adaptml": {"status": "ok", "roc_auc": 0.8},
        "baselines": {"hgb": {"status": "ok", "roc_auc": 0.79}},
        "peers": {"flaml": {"roc_auc": 0.7}, "autogluon": {"roc_auc": 0.75}},
    }
    peers_only = merge(earlier, {"rows": 100, "peers": {"flaml": {"roc_auc": 0.72}}})
    assert peers_only["adaptml"] == earlier["adaptml"] and peers_only["baselines"] == earlier["baselines"]
    assert peers_only["peers"] == {"flaml": {"roc_auc": 0.72}, "autogluon": {"roc_auc": 0.75}}
    ours = merge(earlier, {"rows": 100, "adaptml": {"roc_auc": 0.81}, "baselines": {"hgb": {}}, "peers": {}})
    assert ours["adaptml"] == {"roc_auc": 0.81} and ours["peers"] == earlier["peers"]
    assert merge({}, {"rows": 5, "peers": {}}) == {"rows": 5, "baselines": {}, "peers": {}}


def test_measuring_no_part_reads_the_dataset_facts(tmp_path: Path) -> None:
    (dataset,) = by_name("arthritis")
    parts, test = measure(dataset, None, tmp_path, Plan(ours=False, peers=(), budget=None))
    assert parts["peers"] == {} and "adaptml" not in parts
    assert parts["metric"] == dataset.metric and parts["test_rows"] == len(test)


def test_saved_outputs_are_judged_and_stale_ones_left_out(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setattr(quality_judge, "PREDICTIONS_DIR", tmp_path)
    (dataset,) = by_name("carseats")
    train, test = read_split(dataset)
    output, _, _ = hgb_output(dataset, train, test)
    truth = test[dataset.target]
    worse = output + np.random.default_rng(0).normal(scale=3.0, size=len(output))
    record = {
        "adaptml": {"status": "ok", **score(dataset, truth, output, [])},
        "baselines": {"hgb": {"status": "ok", **score(dataset, truth, worse, [])}},
        "peers": {"flaml": {"status": "ok", "rmse": 0.5}},  # its saved file does not reproduce this: stale
    }
    for tool, values in (("adaptml", output), ("hgb", worse), ("flaml", output)):
        quality_judge.save_output(dataset.name, tool, values, [])
    verdicts = quality_judge.judge_record(dataset, record, test)
    assert set(verdicts) == {"hgb"}
    assert verdicts["hgb"]["verdict"] == "win" and verdicts["hgb"]["difference"] < 0  # rmse: lower is better


def _record(adaptml: float, verdicts: dict[str, str], *, higher: bool = True) -> dict[str, Any]:
    sign = 1 if higher else -1
    noise = {
        t: {"verdict": v, "difference": sign * {"win": 0.02, "tie": 0.001, "loss": -0.02}[v]}
        for t, v in verdicts.items()
    }
    return {
        "rows": 500,
        "cols": 5,
        "task": "binary",
        "metric": "roc_auc",
        "higher_is_better": higher,
        "adaptml": {"status": "ok", "roc_auc": adaptml, "best_model": "lightgbm", "wall_seconds": 61.0},
        "baselines": {"hgb": {"status": "ok", "roc_auc": 0.8}},
        "peers": {
            "flaml": {"status": "ok", "roc_auc": 0.8, "train_wall_seconds": 64.0, "overrun_seconds": 4.0},
            "autogluon": {"status": "crash", "error": "ImportError: x"},
        },
        "noise": noise,
    }


def test_table_and_counts_per_opponent(tmp_path: Path) -> None:
    results = {
        "one": _record(0.82, {"hgb": "win", "flaml": "tie"}),
        "two": _record(0.79, {"hgb": "loss", "flaml": "win"}),
        "three": _record(0.80, {"hgb": "tie", "flaml": "tie"}),
    }
    # "ahead" reads the recorded scores (0.82, 0.79, 0.80 against 0.80), not the verdicts' differences
    assert tally(results, "hgb") == {"win": 1, "tie": 1, "loss": 1, "ahead": 1, "judged": 3, "scored": 3}
    assert tally(results, "flaml") == {"win": 1, "tie": 2, "loss": 0, "ahead": 1, "judged": 3, "scored": 3}
    assert tally(results, "autogluon") == {"win": 0, "tie": 0, "loss": 0, "ahead": 0, "judged": 0, "scored": 0}
    unjudged = {name: {**record, "noise": {}} for name, record in results.items()}  # outputs not saved
    assert tally(unjudged, "flaml") == {"win": 0, "tie": 0, "loss": 0, "ahead": 1, "judged": 0, "scored": 3}
    results["one"]["peers"]["flaml"]["load_average"] = [31.6, 20.0, 10.0]
    header, _, row_one, row_two, _ = table(results).splitlines()
    assert row_one.endswith("| 32 |  |") and row_two.endswith("| - |  |")
    assert "| HGB | FLAML | AutoGluon | vs HGB | vs FLAML | vs AutoGluon |" in header
    path = tmp_path / "quality.md"
    write_markdown(results, path)
    text = path.read_text()
    assert "| FLAML | 1 | 2 | 0 | 3 | 1 of 3 | max +4 s over 3 datasets |" in text
    assert "**one** AutoGluon (crash): `ImportError: x`" in text
    assert "another budget" not in text
    results["two"]["adaptml"]["budget_seconds"] = 60.0
    results["two"]["peers"]["flaml"]["budget_seconds"] = 30.0
    write_markdown(results, path)
    assert "- **two** FLAML: 30 s, adaptml 60 s" in path.read_text()


def test_peers_read_the_frozen_file_dropping_missing_targets_and_spelling_labels_once(tmp_path: Path) -> None:
    path = tmp_path / "train.csv.gz"
    pd.DataFrame({"x": [1, 2, 3, 4], "y": [1.0, 0.0, None, 1.0]}).to_csv(path, index=False)
    frame = read_frame(str(path), "y", "binary")
    assert list(frame["y"]) == ["1", "0", "1"] and list(frame["x"]) == [1, 2, 4]
    assert list(read_frame(str(path), "y", "regression")["y"]) == [1.0, 0.0, 1.0]
