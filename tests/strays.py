"""Processes a test leaves running: every test (and module) must stop the servers, schedulers and workers it starts.

A process is this session's when it descends from the pytest process, or when it outlived its parent (orphans are
re-parented to pid 1) but kept this session's process group or environment marker. After a test, the session's
processes that did not exist before it, do not descend from one that did (a long-lived server's new worker,
Chromium's next renderer) and are not a pool that lives as long as its interpreter, are strays: they are killed
and reported as that test's error. Read from ``/proc`` (Linux); elsewhere nothing is ever found.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["Processes", "Snapshot", "session_processes"]

MARKER = "ADAPTML_TEST_SESSION"  # exported to every child: orphans that kept it are still this session's
POOLS = ("loky", "multiprocessing.resource_tracker", "multiprocessing.forkserver")  # exit with their interpreter
GRACE_SECONDS = 15.0  # a server stopped in a finalizer may still be flushing its workers


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    start: int  # clock ticks after boot: with the pid, names one process even when the pid is reused
    running: bool


Key = tuple[int, int]
Snapshot = frozenset[Key]


def _stat(pid: int) -> Proc | None:
    try:  # the plain syscalls: this runs for every process, three times per test
        handle = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        text = os.read(handle, 4096)
    except OSError:
        return None
    finally:
        os.close(handle)
    fields = text[text.rindex(b")") + 2 :].split()  # fields 3.. of proc(5); the command name may hold spaces
    return Proc(pid, int(fields[1]), int(fields[2]), int(fields[19]), fields[0] not in (b"Z", b"X"))


def _command(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    return ""


def _marked(pid: int, token: str) -> bool:
    with contextlib.suppress(OSError):
        return f"{MARKER}={token}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return False


class Processes:
    """This pytest session's processes: snapshots, the ones session fixtures keep, and the strays to kill."""

    def __init__(self) -> None:
        self.me = os.getpid()
        self.pgid = os.getpgid(0)
        self.token = uuid.uuid4().hex
        os.environ[MARKER] = self.token
        found = _stat(self.me)
        self.started = found.start if found else 0
        self.kept: set[Key] = set()  # started by session-scoped fixtures, stopped by their finalizers

    def _table(self) -> dict[int, Proc]:
        """Every running process started since this session, by pid."""
        table = {}
        with contextlib.suppress(OSError):
            for entry in os.scandir("/proc"):
                if entry.name.isdigit() and (found := _stat(int(entry.name))) and found.start >= self.started:
                    table[found.pid] = found
        return table

    def _ours(self, proc: Proc, table: dict[int, Proc]) -> bool:
        if proc.ppid == 1:  # an orphan: ours if it kept our process group or our marker
            return proc.pgid == self.pgid or _marked(proc.pid, self.token)
        parent = table.get(proc.ppid)
        while parent is not None and parent.pid != self.me:
            parent = table.get(parent.ppid)
        return parent is not None

    def _ancestors(self) -> set[int]:
        """This process and the ones it descends from (a wrapper shell may share its group, orphaned or not)."""
        found, pid = set(), self.me
        while pid > 1 and pid not in found and (proc := _stat(pid)) is not None:
            found.add(pid)
            pid = proc.ppid
        return found

    def _running(self) -> dict[int, Proc]:
        table, mine = self._table(), self._ancestors()
        return {pid: p for pid, p in table.items() if pid not in mine and p.running and self._ours(p, table)}

    def snapshot(self) -> Snapshot:
        return frozenset((p.pid, p.start) for p in self._running().values())

    def keep(self, keys: Iterable[Key]) -> None:
        self.kept.update(keys)

    def strays(self, before: Snapshot) -> dict[int, str]:
        """Processes started since ``before`` that nothing still running from before (or kept) owns: pid, command."""
        running = self._running()
        owners = before | self.kept
        found = {}
        for proc in running.values():
            if (proc.pid, proc.start) in owners:
                continue
            parent = running.get(proc.ppid)
            while parent is not None and (parent.pid, parent.start) not in owners:
                parent = running.get(parent.ppid)
            command = _command(proc.pid)
            if parent is None and not any(pool in command for pool in POOLS):
                found[proc.pid] = command
        return found

    def stop_strays(self, before: Snapshot, grace: float = GRACE_SECONDS) -> dict[int, str]:
        """The strays still running after ``grace`` seconds, killed (SIGTERM, then SIGKILL)."""
        deadline = time.monotonic() + grace
        while (found := self.strays(before)) and time.monotonic() < deadline:
            time.sleep(0.2)
        _kill(found)
        return found


@cache
def session_processes() -> Processes:
    """The one ``Processes`` of this pytest process (a second would export a second marker)."""
    return Processes()


def _kill(pids: Iterable[int], patience: float = 5.0) -> None:
    for number in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, number)
        deadline = time.monotonic() + patience
        while any((p := _stat(pid)) and p.running for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
