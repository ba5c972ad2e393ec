"""Run the training pipeline: compute the run id, let Luigi build what is missing, and report the outcome.

``train`` is the orchestration (no printing); ``train_command`` is the CLI adapter that shows progress with rich.
"""

from __future__ import annotations

import logging
import multiprocessing
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import luigi

from adaptml import __version__, errors
from adaptml.config import Config, parse_config
from adaptml.errors import AdaptmlError, ConfigError
from adaptml.pipeline.context import RunContext, StageEvent, forget, register
from adaptml.pipeline.display import LiveProgress, show_result
from adaptml.pipeline.plan import RunPlan
from adaptml.pipeline.result import TrainResult
from adaptml.pipeline.tasks import Publish
from adaptml.pipeline.trust import workspace_key
from adaptml.pipeline.workspace import PUBLISHED, Workspace
from adaptml.registry import Registry, sha256_hex
from adaptml.signing import Keys
from adaptml.storage import Storage
from adaptml.training import run_id
from adaptml.training.budget import process_started
from adaptml.training.zoo import available_cores

__all__ = ["TrainResult", "train", "train_command"]

ProgressCallback = Callable[[StageEvent], None]


def train(
    cfg: Config,
    *,
    storage: Storage | None = None,
    workers: int = 1,
    scheduler_url: str | None = None,
    progress: ProgressCallback | None = None,
    keys: Keys | None = None,
    started_at: float | None = None,
) -> TrainResult:
    """Train and publish ``cfg``'s dataset, signed with ``keys``' private key (unsigned without one); an unchanged
    config and dataset is up to date and publishes nothing. The time budget counts from ``started_at`` (epoch
    seconds; the CLI passes its process start, so its imports count) or from this call."""
    started = time.perf_counter()
    began = time.time() if started_at is None else started_at  # the budget's clock, in every process of the run
    storage = storage or Storage()
    data = storage.get_bytes(cfg.data.uri)
    data_sha = sha256_hex(data)
    run = run_id(cfg, data_sha, __version__)
    root = Registry(cfg.registry, cfg.project, storage=storage).runs_uri(run)
    workspace = Workspace(storage, root, workspace_key(run, keys.private_raw if keys else None))
    if workspace.exists(PUBLISHED):
        return _result(workspace, run, up_to_date=True, seconds={}, started=started)
    if scheduler_url:
        _check_reachable(scheduler_url)
    seconds: dict[str, float] = {}
    failures: list[StageEvent] = []
    events = multiprocessing.get_context("spawn" if workers > 1 else "fork").SimpleQueue()
    listener = threading.Thread(target=_listen, args=(events, seconds, failures, progress), daemon=True)
    listener.start()
    try:
        if workers > 1:
            outcome = _build_in_fresh_process(
                cfg, run, data_sha, events, workers=workers, scheduler_url=scheduler_url, began=began, keys=keys
            )
        else:
            plan = RunPlan.from_config(cfg, started=began)
            context = RunContext(cfg, plan, run, data_sha, storage, root, available_cores(), data, events, keys=keys)
            register(context)
            outcome = _build(Publish(run_id=run), workers=1, scheduler_url=scheduler_url)
    finally:
        events.put(None)
        listener.join(timeout=10)
        forget(run)
    if failures:
        raise _as_error(failures[0])
    if not workspace.exists(PUBLISHED):
        raise AdaptmlError(f"the training pipeline did not finish ({outcome}); run adaptml train again to resume")
    return _result(workspace, run, up_to_date=False, seconds=seconds, started=started)


def _build(task: luigi.Task, *, workers: int, scheduler_url: str | None) -> str:
    """Run Luigi quietly: its own logging is silenced, our tasks report through events instead."""
    for name in ("luigi", "luigi-interface", "luigi.scheduler", "luigi.worker"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    options: dict[str, Any] = {"workers": workers, "log_level": "CRITICAL", "detailed_summary": True}
    if scheduler_url:
        options["scheduler_url"] = scheduler_url
    else:
        options["local_scheduler"] = True
    result = luigi.build([task], **options)
    return str(result.status.name).lower().replace("_", " ")


def _build_in_fresh_process(
    cfg: Config,
    run: str,
    data_sha: str,
    events: Any,
    *,
    workers: int,
    scheduler_url: str | None,
    began: float,
    keys: Keys | None,
) -> str:
    """Run Luigi's parallel workers from a freshly spawned process.

    Luigi forks a process per task. GNU OpenMP hangs in a child forked from a process that had already used OpenMP
    threads (as any process that trained in-process has), so the forking happens in a clean process that never starts
    OpenMP itself. The cores are shared out: each task gets ``cores // workers`` threads (at least one). Storage comes
    from boto3's environment in that process.
    """
    process = multiprocessing.get_context("spawn").Process(
        target=_fresh_build,
        args=(cfg.to_dict(), run, data_sha, events, workers, scheduler_url, began, keys.private_raw if keys else None),
        name="adaptml-luigi",
    )
    process.start()
    process.join()
    return "finished" if process.exitcode == 0 else f"its process exited with code {process.exitcode}"


def _fresh_build(
    config: dict[str, Any],
    run: str,
    data_sha: str,
    events: Any,
    workers: int,
    scheduler_url: str | None,
    began: float,
    private_key: bytes | None,
) -> None:
    multiprocessing.set_start_method("fork", force=True)  # our own fresh process: Luigi's tasks fork from it
    cfg = parse_config(config)
    storage = Storage()
    root = Registry(cfg.registry, cfg.project, storage=storage).runs_uri(run)
    threads = max(1, available_cores() // workers)
    plan = RunPlan.from_config(cfg, started=began)
    keys = Keys.from_private_raw(private_key)  # the key objects don't pickle: their raw bytes crossed the spawn
    register(RunContext(cfg, plan, run, data_sha, storage, root, threads, None, events, keys=keys))
    outcome = _build(Publish(run_id=run), workers=workers, scheduler_url=scheduler_url)
    if "success" not in outcome:
        raise SystemExit(2)


def _check_reachable(url: str) -> None:
    """Fail fast with one line when the central scheduler is down (Luigi itself retries for minutes)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"--scheduler-url must be an http(s) URL, got {url!r}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=3).close()
    except OSError as error:
        raise AdaptmlError(f"cannot reach the Luigi scheduler at {url} ({error.strerror or error})") from error


def _listen(
    events: Any, seconds: dict[str, float], failures: list[StageEvent], progress: ProgressCallback | None
) -> None:
    while True:
        event = events.get()
        if event is None:
            return
        if event.kind == "done":
            seconds[event.stage] = event.seconds
        elif event.kind == "failed":
            failures.append(event)
        if progress is not None:
            progress(event)


def _as_error(event: StageEvent) -> AdaptmlError:
    """Rebuild the stage's original adaptml error (it may have been raised in a worker process)."""
    cls = getattr(errors, event.error_class, AdaptmlError)
    if not (isinstance(cls, type) and issubclass(cls, AdaptmlError)):
        cls = AdaptmlError
    return cls(event.message)


def _result(
    workspace: Workspace, run: str, *, up_to_date: bool, seconds: dict[str, float], started: float
) -> TrainResult:
    """The result is what Publish recorded, plus this invocation's timings."""
    published = workspace.load(PUBLISHED)
    total = time.perf_counter() - started
    return TrainResult.from_published(published, run_id=run, up_to_date=up_to_date, seconds=seconds, total=total)


def train_command(
    cfg: Config, *, keys: Keys | None = None, workers: int = 1, scheduler_url: str | None = None, console: Any = None
) -> None:
    """The ``adaptml train`` command: progress while it runs, then the leaderboard, version and report."""
    with LiveProgress(console, RunPlan.from_config(cfg).stages) as live:
        result = train(
            cfg,
            workers=workers,
            scheduler_url=scheduler_url,
            progress=live.update,
            keys=keys,
            started_at=process_started(),
        )
    show_result(console, result)
