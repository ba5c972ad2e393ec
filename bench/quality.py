"""``python -m bench quality [--only NAME,...] [--budget S] [--peers [NAME,...]] [--peers-only]``: the robustness
corpus through the real CLI, beside a default HistGradientBoosting and the peers (FLAML, AutoGluon) at equal time.

For each dataset of bench/corpus/ the frozen training file is uploaded to this run's embedded S3 server and
``adaptml train CONFIG`` runs as a child process (bench/quality_cli.py) with a config of project, data.uri,
data.target and registry only (plus the time budget when ``--budget`` is given). The published best model is read
back from the registry and scored on the held-back 20 %, beside a default HistGradientBoosting fitted on the same raw
rows. With ``--peers`` each peer runs in its own virtualenv on the same training file with adaptml's budget
(bench/peer_runs.py).

Results accumulate in bench/results/quality.json: a run replaces only the datasets it measures, and within them
only the parts it measures (adaptml and HGB; each peer it ran), each stamped with when and at which commit. Peers
are kept from earlier runs unless ``--peers`` re-runs them; ``--peers-only`` runs nothing else. Each tool's
test-row output is saved (git-ignored) in bench/results/predictions/ and adaptml is judged against every other
tool by a paired bootstrap on the test rows (bench/noise.py). The table: bench/results/quality.md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from adaptml.config import DEFAULT_TIME_BUDGET_SECONDS
from adaptml.registry import Registry
from adaptml.s3server import running_s3
from adaptml.storage import Storage
from bench.common import RESULTS_DIR, ROOT, load_average, write_results
from bench.corpus.datasets import DATASETS, Dataset, by_name
from bench.corpus.scoring import (
    hgb_output,
    labelled,
    published_facts,
    published_output,
    read_split,
    score,
)
from bench.peer_runs import LOGS_DIR, PEERS, peer_names, run_peer
from bench.quality_cli import cli_train, fit_facts, train_config, upload
from bench.quality_judge import NOISE_NOTE, judge_record, save_output
from bench.quality_report import show, write_markdown

BUCKET = "adaptml-corpus"
LOCK = ROOT / "bench" / ".cache" / "quality.lock"


def dataset_facts(dataset: Dataset, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    return {
        "rows": len(train) + len(test),
        "cols": train.shape[1],
        "test_rows": len(test),
        "task": dataset.task,
        "metric": dataset.metric,
        "higher_is_better": dataset.metric != "rmse",
        "target": dataset.target,
        "source": f"{dataset.source.package}=={dataset.source.version}:{dataset.member}",
        "covers": list(dataset.covers),
    }


@cache
def code_commit() -> str:
    """The commit this process runs (read once, at its first use in main): ``-dirty`` when code outside
    bench/results differs from it."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    status = [*git, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results"]
    dirty = subprocess.run(status, capture_output=True, text=True).stdout.strip()
    return f"{commit or 'unknown'}{'-dirty' if dirty else ''}"


def provenance() -> dict[str, Any]:
    """When, with which code and under what machine load (1, 5, 15 minute averages, at the end) a part was measured."""
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    return {"measured_at": measured_at, "commit": code_commit(), "load_average": load_average()}


def run_ours(
    dataset: Dataset, storage: Storage, folder: Path, split: tuple[pd.DataFrame, pd.DataFrame], budget: float | None
) -> dict[str, Any]:
    """adaptml through the CLI and the default HGB on the same rows; both outputs saved for the noise judgement."""
    train, test = split
    config = train_config(dataset, BUCKET, budget=budget)
    upload(dataset, storage, config)
    config_path = folder / f"{dataset.name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    LOGS_DIR.mkdir(parents=True, exist_ok=True)
    timeout = 1800.0 if budget is None else max(600.0, budget * 20)
    ours = cli_train(config_path, LOGS_DIR / f"{dataset.name}.log", timeout=timeout)
    if ours["status"] == "ok":
        registry = Registry(config["registry"], dataset.name, storage=storage)
        try:
            manifest, output, classes = published_output(dataset, registry, test)
            ours.update(published_facts(dataset, manifest, test, output, classes))
            ours.update(fit_facts(manifest, ours["wall_seconds"], budget))
            save_output(dataset.name, "adaptml", output, classes)
        except Exception as error:  # a model that publishes but cannot score is a finding, not a bench failure
            ours.update(status="score error", error=f"{type(error).__name__}: {error}")
    try:
        output, classes, seconds = hgb_output(dataset, train, test)
        truth = labelled(test, dataset.target)[dataset.target]
        hgb = {"status": "ok", **score(dataset, truth, output, classes), "wall_seconds": seconds}
        save_output(dataset.name, "hgb", output, classes)
    except Exception as error:
        hgb = {"status": "crash", "error": f"{type(error).__name__}: {error}"}
    return {"adaptml": {**ours, **provenance()}, "baselines": {"hgb": {**hgb, **provenance()}}}


def peer_budget(record: dict[str, Any], budget: float | None) -> float:
    """The peers get adaptml's budget: the one asked for, else the one adaptml's recorded run had, else 60 s."""
    if budget is not None:
        return budget
    recorded = record.get("adaptml", {}).get("budget_seconds")
    return float(recorded) if recorded else DEFAULT_TIME_BUDGET_SECONDS


def run_peers(dataset: Dataset, test: pd.DataFrame, budget: float, names: tuple[str, ...]) -> dict[str, Any]:
    """Each asked-for peer with adaptml's budget, its output saved beside adaptml's."""
    peers: dict[str, Any] = {}
    for name in names:
        print(f"  {name} ({budget:g} s budget) ...", flush=True)
        result, output, classes = run_peer(name, dataset, test, budget)
        peers[name] = {**result, **provenance()}
        if output is not None:
            save_output(dataset.name, name, output, classes)
    return peers


@dataclass(frozen=True)
class Plan:
    """What one invocation measures: adaptml and HGB (``ours``), which peers, with what budget."""

    ours: bool
    peers: tuple[str, ...]
    budget: float | None


def load_datasets() -> dict[str, Any]:
    """The dataset records measured so far (bench/results/quality.json), which a run updates in place."""
    path = RESULTS_DIR / "quality.json"
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text()).get("datasets", {}))


def measure(dataset: Dataset, storage: Storage | None, folder: Path, plan: Plan) -> tuple[dict, pd.DataFrame]:
    """What the plan measures on one dataset (its facts, adaptml and HGB, the peers), and its test rows."""
    train, test = read_split(dataset)
    parts: dict[str, Any] = dataset_facts(dataset, train, test)
    if plan.ours and storage is not None:
        parts.update(run_ours(dataset, storage, folder, (train, test), plan.budget))
    recorded = parts if plan.ours else load_datasets().get(dataset.name, {})
    parts["peers"] = run_peers(dataset, test, peer_budget(recorded, plan.budget), plan.peers)
    return parts, test


def merge(record: dict[str, Any], parts: dict[str, Any]) -> dict[str, Any]:
    """A dataset's record with the parts just measured: facts, adaptml and baselines replaced when measured, each
    peer run replaced, every other peer kept."""
    peers = {**record.get("peers", {}), **parts.get("peers", {})}
    return {"baselines": {}, **record, **parts, "peers": peers}


@contextmanager
def locked() -> Iterator[None]:
    """One writer of quality.json at a time (a peers-only run may overlap an adaptml run)."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def store(dataset: Dataset, parts: dict[str, Any], test: pd.DataFrame, summary: dict[str, Any]) -> dict[str, Any]:
    """Merge into the records on disk (re-read: another run may have written since), judge, rewrite json and md.
    With no parts (``--report-only``) verdicts that cannot be judged here (no saved outputs) are kept."""
    with locked():
        datasets = load_datasets()
        record = merge(datasets.get(dataset.name, {}), parts)
        judged = judge_record(dataset, record, test)
        record["noise"] = judged if judged or parts else record.get("noise", {})  # a report-only pass keeps them
        datasets[dataset.name] = record
        corpus = [d.name for d in DATASETS]
        ordered = {
            n: datasets[n] for n in sorted(datasets, key=lambda n: (corpus.index(n) if n in corpus else len(corpus), n))
        }
        figures = {"datasets_measured": len(ordered), "corpus_size": len(corpus), "datasets": ordered}
        write_results("quality", {**summary, **figures})
        write_markdown(ordered, RESULTS_DIR / "quality.md")
    return record


def run(datasets: tuple[Dataset, ...], plan: Plan, summary: dict[str, Any]) -> None:
    """Every dataset in turn; quality.json and quality.md are rewritten after each (a stopped run keeps what it
    measured), updating only the datasets and parts measured."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        storage = None
        if plan.ours:
            stack.enter_context(running_s3(export=True))
            storage = Storage()
            storage.ensure_bucket(BUCKET)
        for dataset in datasets:
            print(f"== {dataset.name}", flush=True)
            parts, test = measure(dataset, storage, folder, plan)
            show(dataset.name, store(dataset, parts, test, summary))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench quality", description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated dataset names (default: the whole corpus)")
    parser.add_argument("--budget", type=float, default=None, help="time budget in seconds written to the config")
    parser.add_argument(
        "--peers",
        nargs="?",
        const="",
        default=None,
        metavar="NAME,...",
        help=f"also (re)run these peers at adaptml's budget (default with the flag: {', '.join(PEERS)})",
    )
    parser.add_argument("--peers-only", action="store_true", help="run only the peers; keep adaptml's records")
    parser.add_argument(
        "--reuse-peers", action="store_true", help="keep the recorded peer results (the default without --peers)"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="measure nothing: re-judge from saved outputs, rewrite json and md"
    )
    args = parser.parse_args(argv)
    if args.reuse_peers and (args.peers is not None or args.peers_only):
        parser.error("--reuse-peers keeps the recorded peers: it cannot be combined with --peers or --peers-only")
    wanted = args.peers is not None or args.peers_only
    plan = Plan(ours=not args.peers_only, peers=peer_names(args.peers or "") if wanted else (), budget=args.budget)
    summary = {
        "noise": NOISE_NOTE,
        "last_run": {
            "command": " ".join(["python -m bench quality", *(argv if argv is not None else sys.argv[1:])]),
            "load_average_at_start": load_average(),
            **provenance(),
        },
    }
    if args.report_only:
        for dataset in by_name(args.only):
            if dataset.name in load_datasets():
                store(dataset, {}, read_split(dataset)[1], summary)
    else:
        run(by_name(args.only), plan, summary)
    print(f"wrote {RESULTS_DIR / 'quality.json'} and {RESULTS_DIR / 'quality.md'}")
    return 0
