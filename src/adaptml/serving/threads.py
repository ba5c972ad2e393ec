"""Running a block single-threaded: native thread pools (OpenMP, BLAS) at one thread and joblib sequential.

For a few rows, handing work to threads costs more than the work; on a Dask worker, the cluster's processes
already use the cores, so threads inside a task would only compete with them.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

__all__ = ["THREADED_ROWS", "batch_threads", "one_thread_per_call", "single_threaded"]

THREADED_ROWS = 5_000  # from this many rows a call may use every core
_ONE_THREAD: ContextVar[bool] = ContextVar("adaptml_one_thread", default=False)


@contextlib.contextmanager
def one_thread_per_call() -> Iterator[None]:
    """Within this block (in this thread), every scoring call uses one thread whatever the batch size: for callers
    that already score several batches at once, where more threads would only contend for the cores."""
    token = _ONE_THREAD.set(True)
    try:
        yield
    finally:
        _ONE_THREAD.reset(token)


def batch_threads(rows: int) -> int:
    """Threads a scoring call of ``rows`` rows may use: one for small batches or inside ``one_thread_per_call``
    (and ``single_threaded``), else the cores this process may run on."""
    if rows < THREADED_ROWS or _ONE_THREAD.get():
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@functools.cache
def _threadpools() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Native thread pools limited to one thread, joblib (forests' ``n_jobs``) sequential, and the compiled tree
    walks on one thread, within the block."""
    from joblib import parallel_config

    with _threadpools().limit(limits=1), parallel_config(backend="sequential"), one_thread_per_call():
        yield
