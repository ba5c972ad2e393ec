"""What every task of one run shares: the config, the storage, the workspace and the channel for progress events.

Luigi builds tasks from their parameters (just ``run_id`` and, for training, ``model``), so the rest (the run plan
too) is looked up here by run id. Events travel through a multiprocessing queue, so tasks in worker processes
(``--workers N``) report too.

The context also holds the run's workspace key (``adaptml.pipeline.trust``): derived from the publisher's private
signing key (``keys``) when one is given; otherwise this machine's random key for the run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from adaptml.config import Config
from adaptml.errors import AdaptmlError
from adaptml.pipeline.plan import RunPlan
from adaptml.pipeline.trust import workspace_key
from adaptml.pipeline.workspace import Workspace
from adaptml.signing import Keys
from adaptml.storage import S3Uri, Storage

__all__ = ["RunContext", "StageEvent", "context_for", "forget", "register"]

_CONTEXTS: dict[str, RunContext] = {}


@dataclass(frozen=True)
class StageEvent:
    """A stage started, finished (with its seconds) or failed (with the error's class name and message)."""

    kind: str  # "start" | "done" | "failed"
    stage: str
    seconds: float = 0.0
    error_class: str = ""
    message: str = ""


@dataclass
class RunContext:
    """One run's shared state; ``root`` is the workspace's address, ``plan`` is derived once from the config.

    ``keys`` are the publisher's (they sign the version; the workspace key is derived from their private half, never
    from a public key, so it stays secret); every process of the run must be given the same ones, or none.
    """

    config: Config
    plan: RunPlan
    run_id: str
    data_sha256: str
    storage: Storage
    root: S3Uri
    threads_per_task: int = 1
    source_bytes: bytes | None = field(default=None, repr=False)
    events: Any = field(default=None, repr=False)
    owner_pid: int = field(default_factory=os.getpid)
    keys: Keys | None = field(default=None, repr=False, kw_only=True)
    _workspace_key: bytes | None = field(default=None, init=False, repr=False)
    _verified: dict[str, tuple[str, str]] = field(default_factory=dict, init=False, repr=False)

    def client(self) -> Storage:
        """The injected storage in the process that made it; a fresh client in a forked worker process."""
        if os.getpid() != self.owner_pid:
            self.storage = Storage()
            self.owner_pid = os.getpid()
        return self.storage

    @property
    def workspace_key(self) -> bytes:
        """The key that tags and verifies this run's workspace artifacts (derived once per process)."""
        if self._workspace_key is None:
            self._workspace_key = workspace_key(self.run_id, self.keys.private_raw if self.keys else None)
        return self._workspace_key

    @property
    def workspace(self) -> Workspace:
        """The run's verified workspace, through this process's storage client."""
        return Workspace(self.client(), self.root, self.workspace_key, self._verified)

    def emit(self, event: StageEvent) -> None:
        if self.events is not None:
            self.events.put(event)


def register(context: RunContext) -> RunContext:
    _CONTEXTS[context.run_id] = context
    return context


def forget(run_id: str) -> None:
    _CONTEXTS.pop(run_id, None)


def context_for(run_id: str) -> RunContext:
    try:
        return _CONTEXTS[run_id]
    except KeyError:
        raise AdaptmlError(f"run {run_id} has no context in this process; start it with adaptml train") from None
