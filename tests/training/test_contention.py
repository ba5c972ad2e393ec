"""Competing CPU demand from two /proc samples: niced background work counts only against a niced process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adaptml.training.contention import CpuSample, competing_cores, is_busy, measure_competition, read_sample

STAT = "cpu  {user} {nice} {system} {idle} 0 0 0 0 0 0\ncpu0 1 2 3 4 0 0 0 0 0 0\n"
OWN = "4242 (python -m x) S 1 1 1 0 -1 4194304 0 0 0 0 {utime} {stime} 0 0 20 0 3 0 1 1 1"


def _sample(user: int, nice: int, system: int, idle: int, utime: int = 0, stime: int = 0) -> CpuSample:
    own = OWN.format(utime=utime, stime=stime)
    return read_sample(STAT.format(user=user, nice=nice, system=system, idle=idle), own)


def test_a_sample_reads_the_machine_line_and_this_process_after_its_name() -> None:
    sample = _sample(100, 50, 20, 30, utime=7, stime=3)
    assert sample == CpuSample(active=120, niced=50, total=200, own=10)


def test_niced_background_work_does_not_compete_with_a_nice_zero_process() -> None:
    before = _sample(0, 0, 0, 0)
    after = _sample(user=10, nice=180, system=0, idle=10)  # 2 cores, 200 ticks: 1.8 cores of niced work
    assert competing_cores(before, after, cores=2, niced=False) == pytest.approx(0.1)
    assert competing_cores(before, after, cores=2, niced=True) == pytest.approx(1.9)  # equal terms when niced


def test_this_process_own_time_is_not_competition() -> None:
    before = _sample(0, 0, 0, 0)
    after = _sample(user=150, nice=0, system=30, idle=20, utime=150, stime=30)  # all of it ours
    assert competing_cores(before, after, cores=2, niced=False) == pytest.approx(0.0)
    assert competing_cores(before, before, cores=2, niced=False) == 0.0  # no time passed: nothing measured


def test_busy_when_the_competition_leaves_fewer_cores_than_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert not is_busy(2, competing=0.3)
    assert is_busy(2, competing=0.9)  # one thread would share a core with a nice-0 process for half its time
    assert not is_busy(1, competing=1.4)


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="the fallback (load average) is used without /proc")
def test_the_measurement_is_a_share_of_the_machine() -> None:
    value = measure_competition()
    assert value is not None and 0.0 <= value <= (os.cpu_count() or 1)
