"""adaptml judged against every other tool on a corpus dataset: each tool's test-row output is saved (git-ignored)
in bench/results/predictions/<dataset>.<tool>.npz with its classes, and adaptml's output is compared with each
other's by the paired bootstrap of bench/noise.py on the same held-back rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench.common import RESULTS_DIR
from bench.corpus.datasets import Dataset
from bench.corpus.scoring import aligned, class_order, label_text, truth_codes
from bench.noise import LEVEL, RESAMPLES, bootstrap_scores, judge, weighted_score
from bench.quality_report import tool_records

PREDICTIONS_DIR = RESULTS_DIR / "predictions"
NOISE_NOTE = (
    f"paired bootstrap over the held-back rows ({RESAMPLES} resamples, the same draws for every tool): adaptml "
    f"wins or loses against another tool when the central {LEVEL:.0%} interval of the score difference excludes 0, "
    "else it is a tie"
)


def save_output(name: str, tool: str, output: Any, classes: list[Any]) -> None:
    """A tool's test-row output and its classes: bench/results/predictions/<name>.<tool>.npz (git-ignored)."""
    PREDICTIONS_DIR.mkdir(parents=True, exist_ok=True)
    labels = np.array([label_text(c) for c in classes], dtype=str)
    np.savez(PREDICTIONS_DIR / f"{name}.{tool}.npz", output=np.asarray(output, dtype=float), classes=labels)


def load_output(name: str, tool: str) -> tuple[np.ndarray, list[str]] | None:
    path = PREDICTIONS_DIR / f"{name}.{tool}.npz"
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as saved:
        return saved["output"], [str(c) for c in saved["classes"]]


def judged_outputs(dataset: Dataset, record: dict[str, Any], test: pd.DataFrame) -> tuple[np.ndarray, dict]:
    """The test targets and every scored tool's saved output, in one class order. An output that no longer
    reproduces its recorded score (a stale file) is left out."""
    saved = {tool: load_output(dataset.name, tool) for tool, part in tool_records(record).items()}
    saved = {tool: found for tool, found in saved.items() if found is not None}
    order = class_order(dataset, test, *[classes for _, classes in saved.values()])
    truth, metric, parts = truth_codes(dataset, test, order), dataset.metric, tool_records(record)
    outputs = {}
    for tool, (output, classes) in saved.items():
        output = aligned(output, classes, order)
        recorded = parts[tool].get(metric) if parts[tool].get("status") == "ok" else None
        same_rows = recorded is not None and len(output) == len(truth)
        if same_rows and np.isclose(weighted_score(metric, truth, output, np.ones(len(truth))), recorded):
            outputs[tool] = output
    return truth, outputs


def judge_record(dataset: Dataset, record: dict[str, Any], test: pd.DataFrame) -> dict[str, Any]:
    """adaptml against every other tool with a saved output, by paired bootstrap on the test rows (bench/noise.py)."""
    truth, outputs = judged_outputs(dataset, record, test)
    if "adaptml" not in outputs:
        return {}
    metric, higher = dataset.metric, dataset.metric != "rmse"
    ones = np.ones(len(truth))
    scores = {tool: bootstrap_scores(metric, truth, output) for tool, output in outputs.items()}
    observed = {tool: weighted_score(metric, truth, output, ones) for tool, output in outputs.items()}
    return {
        tool: judge(
            scores["adaptml"], scores[tool], observed=observed["adaptml"] - observed[tool], higher_is_better=higher
        )
        for tool in scores
        if tool != "adaptml"
    }
