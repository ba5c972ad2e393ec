"""The peers of ``python -m bench quality --peers``: FLAML and AutoGluon, each in its own virtualenv (bench/.venvs/),
on the frozen corpus training file with adaptml's wall-clock budget, their output on the held-back rows scored by
the same function as adaptml's (bench/corpus/scoring.py).

A peer's ``train_wall_seconds`` runs from launching its process to the end of its fit (imports, reading the file,
search and any refit: what adaptml's CLI wall time covers); ``overrun_seconds`` is that minus the budget.
``wall_seconds`` adds predicting the test rows and writing the results.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT
from bench.corpus.datasets import Dataset
from bench.corpus.scoring import labelled, score
from bench.venvs import ensure_venv


@dataclass(frozen=True)
class Peer:
    name: str
    requirements: tuple[str, ...]
    script: str


PEERS = {
    # The same requirement list as bench/train_bench.py, so both benches share one virtualenv.
    "flaml": Peer("flaml", ("flaml[automl]", "pyarrow"), "peer_flaml.py"),
    "autogluon": Peer(
        "autogluon", ("autogluon.tabular[lightgbm,xgboost,catboost]>=1.1,<2", "pyarrow"), "peer_autogluon.py"
    ),
}
LOGS_DIR = ROOT / "bench" / ".cache" / "quality-logs"
_UNAVAILABLE: dict[str, str] = {}  # peers whose virtualenv failed to install in this process, and why


def peer_names(text: str) -> tuple[str, ...]:
    """The peers of a comma-separated list (all when empty); an unknown name is an error naming it."""
    names = tuple(n.strip() for n in text.split(",") if n.strip()) or tuple(PEERS)
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        raise SystemExit(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    return names


def _python(peer: Peer) -> Path | None:
    if peer.name in _UNAVAILABLE:
        return None
    try:
        return ensure_venv(peer.name, list(peer.requirements), with_adaptml=False)
    except (subprocess.SubprocessError, OSError) as error:
        log = f" (see bench/.venvs/{peer.name}/pip.log)"
        _UNAVAILABLE[peer.name] = f"install failed: {type(error).__name__}: {error}"[:300] + log
        return None


def _failure(status: str, error: str, budget: float) -> dict[str, Any]:
    return {"status": status, "error": error, "budget_seconds": budget}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def run_peer(name: str, dataset: Dataset, test: Any, budget: float) -> tuple[dict[str, Any], Any, list[Any]]:
    """One peer on one dataset: its record (score, times, settings) and its output and classes on the labelled
    test rows (``None`` when it failed). Never raises for the peer's own failures."""
    peer = PEERS[name]
    python = _python(peer)
    if python is None:
        return _failure("unavailable", _UNAVAILABLE[name], budget), None, []
    with tempfile.TemporaryDirectory() as folder:
        out, predictions = Path(folder) / "out.json", Path(folder) / "predictions.npy"
        command = [str(python), str(ROOT / "bench" / peer.script), str(dataset.train_path), str(dataset.test_path)]
        command += [dataset.target, dataset.task, dataset.metric, f"{budget:g}", str(out), str(predictions)]
        launched, started = time.time(), time.perf_counter()
        timeout = max(900.0, budget * 15)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return _failure("timeout", f"no result within {timeout:.0f} s", budget), None, []
        wall = time.perf_counter() - started
        LOGS_DIR.mkdir(parents=True, exist_ok=True)
        (LOGS_DIR / f"{dataset.name}.{name}.log").write_text(f"{done.stdout}\n--- stderr ---\n{done.stderr}")
        if done.returncode != 0 or not out.exists():
            return _failure("crash", _last_line(done.stderr), budget), None, []
        facts, output = json.loads(out.read_text()), np.load(predictions, allow_pickle=False)
    train_wall = facts["fit_done_unix"] - launched
    truth = labelled(test, dataset.target)[dataset.target]
    record = {
        "status": "ok",
        "error": None,
        **score(dataset, truth, output, facts["classes"]),
        "best_model": facts["best_learner"],
        "version": facts.get("library_version"),
        "settings": facts.get("settings"),
        "train_rows": facts.get("train_rows"),  # rows with a target, as the peer's own pandas read the file
        "budget_seconds": budget,
        "train_wall_seconds": round(train_wall, 1),
        "overrun_seconds": round(train_wall - budget, 1),
        "wall_seconds": round(wall, 1),
    }
    return record, output, facts["classes"]
