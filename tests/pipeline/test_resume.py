from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from adaptml.pipeline import train
from adaptml.pipeline.context import StageEvent
from adaptml.registry import Registry
from adaptml.storage import Storage

from .conftest import ConfigFactory, write_yaml


def _finished_models(storage: Storage, registry: Registry) -> set[str]:
    uris = storage.list(f"{registry.project_uri.join('runs')}/")
    return {u.rsplit("/", 1)[-1].removesuffix(".json") for u in uris if "/models/" in u and u.endswith(".json")}


def test_a_killed_run_resumes_without_retraining_finished_models(
    storage: Storage, make_config: ConfigFactory, tmp_path: Path
) -> None:
    # a tuning budget makes every tunable model take a couple of seconds: a window to kill the run in
    cfg = make_config(models=["ridge", "random_forest", "lightgbm"], tuning={"cv_folds": 3, "budget_seconds": 2})
    registry = Registry(cfg.registry, cfg.project, storage=storage)
    command = [sys.executable, "-m", "adaptml", "train", str(write_yaml(tmp_path / "config.yaml", cfg))]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not _finished_models(storage, registry) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finished = _finished_models(storage, registry)
    assert finished and registry.versions() == []  # killed during training: something done, nothing published

    events: list[StageEvent] = []
    result = train(cfg, storage=storage, progress=events.append)
    started = {e.stage for e in events if e.kind == "start"}
    assert not {f"train {name}" for name in finished} & started
    assert {"train ridge", "train random_forest", "train lightgbm"} - {f"train {n}" for n in finished} <= started
    assert "ingest" not in started and "publish" in started
    assert registry.versions() == [result.version]
