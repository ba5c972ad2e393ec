"""Running a block single-threaded: native thread pools (OpenMP, BLAS) at one thread and joblib sequential.

For a few rows, handing work to threads costs more than the work; on a Dask worker, the cluster's processes
already use the cores, so threads inside a task would only compete with them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

__all__ = ["single_threaded"]


@functools.cache
def _threadpools() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Native thread pools limited to one thread, and joblib (forests' ``n_jobs``) sequential, within the block."""
    from joblib import parallel_config

    with _threadpools().limit(limits=1), parallel_config(backend="sequential"):
        yield
