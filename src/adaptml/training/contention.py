"""How much CPU other processes take that this one cannot take back: whether a fit should use one thread or several.

OpenMP boosters synchronise their threads at every tree node, so one thread descheduled by a competing process stalls
every barrier (on 2 cores at load 7 a default HistGradientBoosting on 33,610 rows took 21.2 s with 2 threads, 1.9 s
with 1). So the competition is sampled from ``/proc/stat`` over ``SAMPLE_SECONDS``, which answers for now rather
than for the last minute: the machine's user, system and niced time less this process's own
(``/proc/self/stat``). Niced work counts too: a nice-0 fit does take the CPU from it, but a nice-19 process still
holds a core for its time slice, and that is enough to stall a barrier (a 20,973-row HistGradientBoosting refit
with 2 threads beside niced test processes took 137 s; its CV fits 3 s). A fit of ``n`` threads counts the machine
as busy when that competition leaves fewer than ``n - HEADROOM`` cores free. Where ``/proc`` is absent (macOS,
Windows) the old test stands in: a load average at or above the core count. ``competing_cores`` is a pure
function of two samples.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SAMPLE_SECONDS", "CpuSample", "competing_cores", "is_busy", "measure_competition", "read_sample"]

SAMPLE_SECONDS = 0.08
HEADROOM = 0.5  # of a core: a thread may share that much of its core before barriers stall
CACHE_SECONDS = 5.0  # a run asks before every fit: one sample serves the fits of the next few seconds
_cache: tuple[float, float] | None = None  # (monotonic time, competing cores)


@dataclass(frozen=True)
class CpuSample:
    """Cumulative CPU clock ticks since boot, summed over every CPU: the machine's non-niced (user + system, irq
    included), niced and total time, and this process's own (user + system) time."""

    active: int
    niced: int
    total: int
    own: int


def competing_cores(before: CpuSample, after: CpuSample, *, cores: int, niced: bool) -> float:
    """Cores' worth of CPU other processes used between two samples that this process competes with: the non-niced
    ones, and the niced ones too when this process is ``niced`` (its own user time then counts as niced)."""
    total = after.total - before.total
    if total <= 0:
        return 0.0
    used = after.active - before.active + (after.niced - before.niced if niced else 0)
    others = max(0, used - (after.own - before.own))
    return cores * others / total


def read_sample(stat: str, own_stat: str) -> CpuSample:
    """A sample from the texts of ``/proc/stat`` and ``/proc/self/stat``."""
    fields = [int(v) for v in stat.splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]  # guest time is inside user's
    own = own_stat.rsplit(")", 1)[1].split()  # the command name may hold spaces; fields 14 and 15 follow it
    return CpuSample(
        active=user + system + irq + softirq,
        niced=nice,
        total=user + nice + system + idle + iowait + irq + softirq + steal,
        own=int(own[11]) + int(own[12]),
    )


def _sample() -> CpuSample:
    return read_sample(Path("/proc/stat").read_text(), Path("/proc/self/stat").read_text())


def is_busy(n_jobs: int, *, competing: float | None = None) -> bool:
    """Whether other processes leave fewer than ``n_jobs - HEADROOM`` cores free: ``competing`` cores' worth of
    demand, by default as measured now (``measure_competition``; the load average test without ``/proc``)."""
    cores = os.cpu_count() or 1
    if competing is None:
        competing = measure_competition()
        if competing is None:
            return _load_average() >= cores
    return competing > cores - n_jobs + HEADROOM


def measure_competition() -> float | None:
    """Cores' worth of competing CPU demand right now (``competing_cores``; cached ``CACHE_SECONDS``); None where
    ``/proc`` is absent."""
    global _cache
    now = time.monotonic()
    if _cache is not None and now - _cache[0] < CACHE_SECONDS:
        return _cache[1]
    try:
        before = _sample()
        time.sleep(SAMPLE_SECONDS)
        after = _sample()
    except (OSError, ValueError, IndexError):
        return None
    cores = os.cpu_count() or 1
    value = competing_cores(before, after, cores=cores, niced=True)  # see the module's docstring
    _cache = (time.monotonic(), value)
    return value


def _load_average() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0
