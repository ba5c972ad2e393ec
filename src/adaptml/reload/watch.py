"""How every serving process converges on LATEST: one daemon thread per process.

gunicorn runs several worker processes and a notification reaches only one of them, so the worker that receives it
rewrites a small file in a per-host runtime directory (``runtime.SiblingSignal``). Every process's ``ReloadWorker``
stats that file every ~0.05 s (one stat: cheap) and refreshes when it changes; as a fallback it also polls LATEST's
ETag every ``poll_seconds`` (0 disables), so a lost notification only delays the switch; a process whose poll finds
a new LATEST announces it to its siblings too. S3 outages are logged and backed off; the loaded version keeps
serving. Each worker writes its state to ``workers/<pid>-<n>.json`` so siblings, operators and tests can see every
process's version.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptml.errors import StoreGone
from adaptml.reload.runtime import SiblingSignal, write_atomically

__all__ = ["ReloadWorker", "StoreHooks"]

MAX_BACKOFF_SECONDS = 60.0
log = logging.getLogger("adaptml.reload")
_serial = itertools.count(1)


@dataclass(frozen=True)
class StoreHooks:
    """What the worker needs from the model store, as plain callables (the store itself stays unknown here).

    ``refresh`` raises ``transient`` errors (S3 unreachable) to be retried; anything else it raises or records is a
    settled outcome, such as a refused version, and is not retried until LATEST changes again.
    """

    refresh: Callable[[], Any]
    current_version: Callable[[], str | None]
    latest_etag: Callable[[], str | None]
    latest_version: Callable[[], str | None]
    transient: tuple[type[BaseException], ...] = ()
    alive: Callable[[], bool] = lambda: True  # False once the store is gone: the thread ends


class ReloadWorker:
    """One per process: refreshes the store when poked, when a sibling announces, or when LATEST's ETag changes."""

    def __init__(self, hooks: StoreHooks, runtime_dir: Path, *, poll_seconds: float, interval: float = 0.05) -> None:
        self.hooks = hooks
        self.runtime_dir = runtime_dir
        self.signal = SiblingSignal(runtime_dir)
        self.poll_seconds = poll_seconds
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._thread: threading.Thread | None = None
        self._status_path = runtime_dir / "workers" / f"{os.getpid()}-{next(_serial)}.json"
        self._reset_state()

    def _reset_state(self) -> None:
        self._seen_signal = self.signal.fingerprint()
        self._last_etag: str | None = None
        self._etag_known = False
        self._next_poll = time.monotonic() + self.poll_seconds
        self._failures = 0
        self._retry_at: float | None = None
        self._pending: str | None = None
        self._status: dict[str, Any] = {"pid": os.getpid(), "started_at": time.time()}

    # -- lifecycle --------------------------------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the thread once per process; after a fork the child starts its own (threads do not survive fork)."""
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            if self._pid is not None and self._pid != os.getpid():
                self._status_path = self.runtime_dir / "workers" / f"{os.getpid()}-{next(_serial)}.json"
                self._reset_state()
            self._pid = os.getpid()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="adaptml-reload", daemon=True)
            self._thread.start()
        self._write_status()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self._status_path.unlink()

    def poke(self, reason: str | None = None) -> None:
        """Check now; with a reason, refresh even if nothing else changed."""
        if reason:
            self._pending = reason
        self._wake.set()

    def status(self) -> dict[str, Any]:
        return {**self._status, "version": self.hooks.current_version()}

    # -- the loop ---------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set() or not self.hooks.alive():
                return
            try:
                self.tick()
            except StoreGone:
                return
            except Exception:  # noqa: BLE001 - the watcher must outlive any surprise
                log.exception("reload watcher: unexpected error; keeping the current version")

    def tick(self, now: float | None = None) -> list[str]:
        """One pass: collect reasons to refresh and refresh once if there are any. Returns the reasons."""
        now = time.monotonic() if now is None else now
        reasons = [r for r in (self._take_pending(), self._check_signal(), self._check_retry(now)) if r]
        if self.poll_seconds > 0 and now >= self._next_poll and self._poll(now):
            reasons.append("poll")
            self._tell_siblings()  # they load alongside instead of each waiting for its own poll
        if reasons:
            self._refresh(reasons, now)
        return reasons

    def _take_pending(self) -> str | None:
        reason, self._pending = self._pending, None
        return reason

    def _check_signal(self) -> str | None:
        fingerprint = self.signal.fingerprint()
        if fingerprint is None or fingerprint == self._seen_signal:
            return None
        self._seen_signal = fingerprint
        return "notified"

    def _check_retry(self, now: float) -> str | None:
        if self._retry_at is None or now < self._retry_at:
            return None
        self._retry_at = None
        return "retry"

    def _poll(self, now: float) -> bool:
        try:
            etag = self.hooks.latest_etag()
            first_look_current = (
                not self._etag_known
                and etag is not None
                and self.hooks.latest_version() == self.hooks.current_version()
            )
        except StoreGone:
            raise
        except Exception as error:  # noqa: BLE001 - any S3 failure: back off, keep serving
            self._failures += 1
            self._next_poll = now + self._backoff()
            log.warning("reload poll failed (%s); next try in %.1f s", error, self._next_poll - now)
            self._status.update(poll_error=str(error))
            return False
        self._failures = 0
        self._next_poll = now + self.poll_seconds
        self._status.update(polled_at=time.time(), poll_error=None)
        previous, self._etag_known, self._last_etag = self._last_etag, True, etag
        # nothing published, unchanged, or (first look) already serving what LATEST names: nothing to do
        return not (etag is None or etag == previous or first_look_current)

    def _tell_siblings(self) -> None:
        try:
            self.signal.announce({"reason": "poll"})
            self._seen_signal = self.signal.fingerprint()  # this process acts on its own poll, not on the echo
        except OSError as error:
            log.warning("cannot tell sibling processes about the new LATEST (%s)", error)

    def _backoff(self) -> float:
        base = max(self.poll_seconds, 1.0)
        return float(min(base * 2 ** min(self._failures, 10), MAX_BACKOFF_SECONDS))

    def _refresh(self, reasons: list[str], now: float) -> None:
        before = self.hooks.current_version()
        try:
            self.hooks.refresh()
        except StoreGone:
            raise
        except self.hooks.transient as error:
            self._failures += 1
            self._retry_at = now + self._backoff()
            log.warning("reload (%s) failed: %s; retrying in %.1f s", ",".join(reasons), error, self._retry_at - now)
            self._status.update(error=str(error))
            self._write_status()
            return
        except Exception as error:  # noqa: BLE001 - a refused version is recorded by the store; keep serving
            log.warning("reload (%s) did not switch: %s", ",".join(reasons), error)
            self._status.update(error=str(error))
        else:
            self._status.update(error=None)
        after = self.hooks.current_version()
        if after != before:
            self._status.update(switched_at=time.time(), previous_version=before)
            log.info("reload (%s): now serving %s (was %s)", ",".join(reasons), after, before)
        self._status.update(refreshed_at=time.time(), reason=",".join(reasons))
        self._write_status()

    def _write_status(self) -> None:
        try:
            write_atomically(self._status_path, self.status())
        except OSError as error:
            log.warning("cannot write reload status %s: %s", self._status_path, error)
