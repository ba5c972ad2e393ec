"""The stray-process check every test runs under (tests/strays.py): what a test leaves running is found, orphans
included, and killed; what was running before, and what a process that was running before starts, are left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.strays import session_processes

PROCESSES = session_processes()
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
START_SLEEPER = (
    f"import subprocess as s; print(s.Popen({SLEEPER!r}, stdout=s.DEVNULL, stderr=s.DEVNULL).pid, flush=True)"
)


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition()


def test_a_child_left_running_is_a_stray_and_is_killed() -> None:
    before = PROCESSES.snapshot()
    child = subprocess.Popen(SLEEPER)
    try:
        assert set(PROCESSES.strays(before)) == {child.pid}
        assert set(PROCESSES.stop_strays(before, grace=0)) == {child.pid}
        assert child.wait(timeout=10) != 0 and PROCESSES.strays(before) == {}
    finally:
        child.kill()
        child.wait()


def test_an_orphan_that_kept_the_session_is_found_after_its_parent_exits() -> None:
    before = PROCESSES.snapshot()
    parent = subprocess.run(
        [sys.executable, "-c", START_SLEEPER],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    orphan = int(parent.stdout)
    _wait_for(lambda: orphan in PROCESSES.strays(before))
    assert orphan in PROCESSES.stop_strays(before, grace=0)
    assert orphan not in PROCESSES.strays(before)


def test_processes_from_before_and_what_they_start_later_are_not_strays() -> None:
    script = f"import sys, time; sys.stdin.readline(); {START_SLEEPER}"
    server = subprocess.Popen(
        [sys.executable, "-c", script + "; time.sleep(120)"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdin and server.stdout
    try:
        before = PROCESSES.snapshot()  # the server runs from before; it starts a worker after
        server.stdin.write("go\n")
        server.stdin.flush()
        worker = int(server.stdout.readline())
        assert PROCESSES.strays(before) == {} and worker not in PROCESSES.strays(before)
        kept = subprocess.Popen(SLEEPER)  # as a session-scoped fixture's processes are kept
        started = PROCESSES.snapshot() - before
        PROCESSES.keep(started)
        try:
            assert PROCESSES.strays(before) == {}
        finally:
            PROCESSES.kept.difference_update(started)
            kept.kill()
            kept.wait()
        os.kill(worker, signal.SIGKILL)
    finally:
        server.kill()
        server.wait()
