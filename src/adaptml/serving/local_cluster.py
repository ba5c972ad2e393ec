"""The app's own Dask cluster, when no scheduler is named: loopback only, no dashboard, secret-free workers.

Workers unpickle the models they are shipped, so they get nothing else: they run as a ``dask worker`` process tree
started with an allow-listed environment (no signing key, reload secret, webhook token or cloud credentials, which
the serving process needs and holds). Their nannies restart dead workers from that same scrubbed environment. The
scheduler runs in this process, on 127.0.0.1, with its dashboard off.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Mapping

__all__ = ["LoopbackCluster", "worker_environment"]

LOOPBACK = "127.0.0.1"
KEPT_NAMES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONPATH", "PYTHONHASHSEED"}
    | {"VIRTUAL_ENV", "MPLCONFIGDIR", "SYSTEMROOT"}
)
KEPT_PREFIXES = ("LC_", "OMP_", "MKL_", "OPENBLAS_", "DASK_DISTRIBUTED__", "MALLOC_", "NUMBA_")


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed part of ``environ``: locale, paths, thread counts and Dask's own settings, nothing secret."""
    return {
        name: value
        for name, value in environ.items()
        if name in KEPT_NAMES or (name.startswith(KEPT_PREFIXES) and "KEY" not in name and "TOKEN" not in name)
    }


class LoopbackCluster:
    """A scheduler in this process plus ``n_workers`` single-threaded worker processes, all on 127.0.0.1."""

    def __init__(self, n_workers: int, *, start_timeout: float = 120.0) -> None:
        from distributed import Client, LocalCluster

        self._cluster = LocalCluster(  # its HTTP server (health, metrics) on a free loopback port, no dashboard
            n_workers=0,
            processes=True,
            host=LOOPBACK,
            scheduler_port=0,
            dashboard_address=f"{LOOPBACK}:0",
            scheduler_kwargs={"dashboard": False},
        )
        self.scheduler_address: str = self._cluster.scheduler_address
        command = [sys.executable, "-m", "distributed.cli.dask_worker", self.scheduler_address]
        command += ["--nworkers", str(n_workers), "--nthreads", "1", "--host", LOOPBACK]
        command += ["--no-dashboard", "--dashboard-address", f"{LOOPBACK}:0"]  # health and metrics only, local
        command += ["--death-timeout", "10"]  # orphaned by a killed app, the workers exit 10 s after the scheduler
        self._workers: subprocess.Popen[bytes] | None = subprocess.Popen(
            command, env=worker_environment(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            with Client(self.scheduler_address, set_as_default=False) as client:
                client.wait_for_workers(n_workers, timeout=start_timeout)
        except BaseException:
            self.close()
            raise

    def close(self, timeout: float = 20.0) -> None:
        """Stop the worker processes (their nannies first), then the scheduler."""
        workers, self._workers = self._workers, None
        if workers is not None and workers.poll() is None:
            workers.terminate()
            try:
                workers.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                workers.kill()
                workers.wait()
        with contextlib.suppress(Exception):
            self._cluster.close()
