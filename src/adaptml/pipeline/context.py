"""What every task of one run shares: the config, the storage, the workspace and the channel for progress events.

Luigi builds tasks from their parameters (just ``run_id`` and, for training, ``model``), so the rest is looked up
here by run id. Events travel through a multiprocessing queue, so tasks in worker processes (``--workers N``)
report too.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from adaptml.config import Config
from adaptml.errors import AdaptmlError
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
    config: Config
    run_id: str
    data_sha256: str
    storage: Storage
    workspace: S3Uri
    threads_per_task: int = 1
    source_bytes: bytes | None = field(default=None, repr=False)
    events: Any = field(default=None, repr=False)
    owner_pid: int = field(default_factory=os.getpid)

    def client(self) -> Storage:
        """The injected storage in the process that made it; a fresh client in a forked worker process."""
        if os.getpid() != self.owner_pid:
            self.storage = Storage()
            self.owner_pid = os.getpid()
        return self.storage

    def uri(self, path: str) -> S3Uri:
        return self.workspace.join(path)

    def emit(self, event: StageEvent) -> None:
        if self.events is not None:
            self.events.put(event)

    # -- typed object access -------------------------------------------------------------------------------
    def read_bytes(self, path: str) -> bytes:
        return self.client().get_bytes(self.uri(path))

    def write_bytes(self, path: str, data: bytes) -> None:
        self.client().put_bytes(self.uri(path), data)

    def read_json(self, path: str) -> Any:
        return json.loads(self.read_bytes(path))

    def write_json(self, path: str, data: Any) -> None:
        self.write_bytes(path, json.dumps(data, indent=2, default=str).encode("utf-8"))

    def read_frame(self, path: str) -> pd.DataFrame:
        return pd.read_parquet(io.BytesIO(self.read_bytes(path)))

    def write_frame(self, path: str, frame: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        self.write_bytes(path, buffer.getvalue())

    def read_array(self, path: str) -> np.ndarray:
        return np.load(io.BytesIO(self.read_bytes(path)), allow_pickle=False)

    def write_array(self, path: str, array: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        self.write_bytes(path, buffer.getvalue())


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
