from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from adaptml import __version__
from adaptml.pipeline import train
from adaptml.pipeline.context import StageEvent
from adaptml.pipeline.plan import RunPlan
from adaptml.pipeline.workspace import Workspace, model_files
from adaptml.registry import Registry, sha256_hex
from adaptml.storage import Storage
from adaptml.training import run_id

from .conftest import ConfigFactory, write_yaml


def _finished_models(workspace: Workspace, names: tuple[str, ...]) -> set[str]:
    return {name for name in names if workspace.exists(model_files(name)["facts"])}


def test_a_killed_run_resumes_without_retraining_finished_models(
    storage: Storage, make_config: ConfigFactory, tmp_path: Path
) -> None:
    # a tuning budget makes every tunable model take a couple of seconds: a window to kill the run in
    cfg = make_config(models=["ridge", "random_forest", "lightgbm"], tuning={"cv_folds": 3, "budget_seconds": 2})
    registry = Registry(cfg.registry, cfg.project, storage=storage)
    run = run_id(cfg, sha256_hex(storage.get_bytes(cfg.data.uri)), __version__)
    workspace, names = Workspace(storage, registry.runs_uri(run)), RunPlan.from_config(cfg).models
    command = [sys.executable, "-m", "adaptml", "train", str(write_yaml(tmp_path / "config.yaml", cfg))]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not _finished_models(workspace, names) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finished = _finished_models(workspace, names)
    assert finished and registry.versions() == []  # killed during training: something done, nothing published

    events: list[StageEvent] = []
    result = train(cfg, storage=storage, progress=events.append)
    started = {e.stage for e in events if e.kind == "start"}
    assert not {f"train {name}" for name in finished} & started
    assert {"train ridge", "train random_forest", "train lightgbm"} - {f"train {n}" for n in finished} <= started
    assert "ingest" not in started and "publish" in started
    assert registry.versions() == [result.version]
