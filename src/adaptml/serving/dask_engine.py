"""Batch prediction on a Dask ``distributed`` cluster: partitions in, outputs back in input order.

The cluster is the scheduler at the given address (the entry points read ``DASK_SCHEDULER_ADDRESS``), else a
LocalCluster started on first use and reused. Models are broadcast to the workers once per version and referenced
by future afterwards; the scheduler's active memory manager is stopped, since its ReduceReplicas policy would delete
those broadcast copies and make every batch fetch the models again.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from adaptml.errors import EngineUnavailable
from adaptml.serving.loaded import LoadedModels
from adaptml.serving.predict import ModelOutput, PreparedInput, combine_outputs, predict_model
from adaptml.serving.sharing import shared_work
from adaptml.serving.threads import single_threaded

__all__ = ["DaskEngine", "predict_partition", "split_frame"]

log = logging.getLogger(__name__)


def split_frame(frame: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    """Consecutive, nearly equal row ranges (never empty), so results concatenate back in input order."""
    parts = max(1, min(parts, len(frame)))
    size = math.ceil(len(frame) / parts)
    return [frame.iloc[start : start + size] for start in range(0, len(frame), size)]


def predict_partition(
    predictors: dict[str, tuple[Any, bool]], parts: dict[bool, pd.DataFrame], names: Sequence[str]
) -> dict[str, ModelOutput]:
    """On a worker: every named model on one partition (typed or raw records, as each model takes), in one task
    so that steps the models share run once; single-threaded, since the cluster's processes use the cores."""
    with single_threaded(), shared_work():
        return {name: predict_model(name, model, parts[typed]) for name in names for model, typed in [predictors[name]]}


def _broadcast_key(models: LoadedModels) -> tuple[Any, ...]:
    """What the workers' copies depend on: the version, and which models have their fast path."""
    fast = tuple(sorted(name for name, path in (models.fast_paths or {}).items() if path.enabled))
    return (models.project, models.version, models.fast_paths is not None, fast)


class DaskEngine:
    """Predicts batches on a Dask cluster; raises ``EngineUnavailable`` when the cluster cannot be used."""

    def __init__(
        self,
        address: str | None = None,
        *,
        client: Any | None = None,
        n_workers: int = 2,
        connect_timeout: float = 5.0,
        rows_per_partition: int = 25_000,
        min_rows_per_partition: int = 1_000,
        scatter_rows: int = 2_000,
        retry_after: float = 30.0,
    ) -> None:
        self.address = address
        self.n_workers = n_workers
        self.connect_timeout = connect_timeout
        self.rows_per_partition = rows_per_partition
        self.min_rows_per_partition = min_rows_per_partition
        self.scatter_rows = scatter_rows
        self.retry_after = retry_after
        self._workers = 1
        self._down_until = 0.0
        self._down_reason = ""
        self._client = client
        self._owns_client = client is None
        self._replicas_kept = False
        self._cluster: Any | None = None
        self._scattered: tuple[tuple[Any, ...], dict[str, tuple[Any, bool]]] | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def started(self) -> bool:
        return self._client is not None

    def client(self) -> Any:
        """The distributed Client, connecting (or starting the LocalCluster) on first use."""
        with self._lock:
            if self._closed:  # e.g. the app's warm-up thread after shutdown: never start a cluster nobody closes
                raise EngineUnavailable("the Dask engine is closed")
            if self._client is None:
                self._client = self._connect()
            if not self._replicas_kept:
                self._keep_replicas(self._client)
            return self._client

    def _keep_replicas(self, client: Any) -> None:
        try:
            if client.amm.running():
                client.amm.stop()
                log.info("stopped the Dask active memory manager so broadcast models stay on every worker")
        except Exception as error:  # noqa: BLE001 - an older or locked-down scheduler: replicas may be reduced
            log.warning("cannot stop the Dask active memory manager (%s); models may be re-fetched by workers", error)
        self._replicas_kept = True

    def _connect(self) -> Any:
        from distributed import Client

        from adaptml.serving.local_cluster import LoopbackCluster

        try:
            if self.address:
                return Client(self.address, timeout=f"{self.connect_timeout}s", set_as_default=False)
            # loopback only, no dashboard, workers started without the signing key, reload secret or AWS keys
            self._cluster = LoopbackCluster(self.n_workers)
            atexit.register(self.close)
            return Client(self._cluster.scheduler_address, set_as_default=False)
        except Exception as error:  # noqa: BLE001 - any failure to reach a cluster means "predict directly"
            raise EngineUnavailable(f"cannot connect to {self.address or 'a local cluster'}: {error!r}") from error

    def _model_futures(self, client: Any, models: LoadedModels) -> dict[str, tuple[Any, bool]]:
        """Per model: a future of its predictor on every worker, and whether it takes the typed frame.

        Broadcast once per version (and once more when its compiled fast paths arrive); later batches of the same
        version only ship their rows.
        """
        key = _broadcast_key(models)
        with self._lock:
            if self._scattered is not None and self._scattered[0] == key:
                return self._scattered[1]
            names = list(models.models)
            predictors = [models.predictor(name) for name in names]
            futures = client.scatter([p for p, _ in predictors], broadcast=True, hash=False)
            cached = {name: (f, typed) for name, f, (_, typed) in zip(names, futures, predictors, strict=True)}
            self._scattered = (key, cached)
            self._workers = max(1, len(client.scheduler_info().get("workers", {})))
            return cached

    def predict(self, models: LoadedModels, prepared: PreparedInput, names: Sequence[str]) -> tuple[ModelOutput, ...]:
        """The named models' outputs, the batch partitioned across the workers, in input order."""
        wait = self._down_until - time.monotonic()
        if wait > 0:  # failed recently: do not make every request wait for a connection timeout
            raise EngineUnavailable(f"{self._down_reason}; next attempt in {wait:.0f} s")
        try:
            client = self.client()
            predictors = self._model_futures(client, models)
            count = self._partitions(len(prepared.typed))
            kinds = sorted({predictors[name][1] for name in names})
            frames = {kind: prepared.typed if kind else prepared.records for kind in kinds}
            parts = {kind: self._ship(client, split_frame(frames[kind], count)) for kind in kinds}
            chosen = {name: predictors[name] for name in names}
            shares = [{kind: parts[kind][index] for kind in kinds} for index in range(len(parts[kinds[0]]))]
            tasks = [client.submit(predict_partition, chosen, share, names, pure=False) for share in shares]
            gathered = client.gather(tasks)
        except EngineUnavailable as error:
            self._mark_down(str(error))
            raise
        except (Exception, asyncio.CancelledError) as error:  # noqa: BLE001 - lost scheduler/worker: go direct
            self._forget()
            self._mark_down(f"{type(error).__name__}: {error}")
            raise EngineUnavailable(self._down_reason) from error
        sizes = [len(part) for part in split_frame(prepared.typed, count)]
        return tuple(combine_outputs([part[name] for part in gathered], sizes) for name in names)

    def warm(self, models: LoadedModels | None = None) -> None:
        """Connect (or start the LocalCluster) and broadcast a version's predictors now, so the first large batch
        does not wait for either; failures only mark the engine down, as a batch would."""
        try:
            client = self.client()
            if models is not None:
                self._model_futures(client, models)
        except EngineUnavailable as error:
            self._mark_down(str(error))
        except Exception as error:  # noqa: BLE001 - a cluster that cannot warm is retried by the next batch
            self._forget()
            self._mark_down(f"{type(error).__name__}: {error}")

    def _partitions(self, rows: int) -> int:
        """At least one partition per worker and at most ``rows_per_partition`` rows each, but no partition
        under ``min_rows_per_partition`` rows: below that, a task's fixed cost outweighs the parallelism."""
        count = max(self._workers, math.ceil(rows / self.rows_per_partition))
        return max(1, min(count, rows // self.min_rows_per_partition))

    def _ship(self, client: Any, parts: list[pd.DataFrame]) -> list[Any]:
        """Large partitions go to the workers ahead of the tasks; small ones simply travel inside them."""
        if sum(len(part) for part in parts) <= self.scatter_rows:
            return parts
        return list(client.scatter(parts, hash=False))

    def _mark_down(self, reason: str) -> None:
        self._down_reason = reason
        self._down_until = time.monotonic() + self.retry_after

    def _forget(self) -> None:
        """Drop a broken connection so the next batch reconnects (or falls back again)."""
        with self._lock:
            self._scattered = None
            self._replicas_kept = False
            if self._owns_client and self._client is not None:
                client, self._client = self._client, None
                with contextlib.suppress(Exception):  # closing a dead client may fail; nothing to do
                    client.close(timeout=2)

    def close(self) -> None:
        """Close the client and the LocalCluster this engine started (an injected client is left alone); for good."""
        with self._lock:
            self._closed = True
            self._scattered = None
            if self._owns_client and self._client is not None:
                self._client.close()
                self._client = None
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None
