"""The ModelStore: holds one immutable ``LoadedModels`` and swaps it atomically when a good version arrives.

A refresh downloads a version (the registry verifies the signatures and every sha256), unpickles it, smoke-predicts
the schema's example record with every model and only then swaps the reference. A model whose verified pickle has
the same sha256 as one of the served version is neither unpickled nor smoke-tested again: the object is reused.
The fast paths are derived and gated after the swap, in the background, unless every pickle, the gate records and
the schema are the served version's: then its gated fast paths are carried over as they are.
Any failure is recorded as a refusal and the old set keeps serving. Requests take the reference once, so no response
mixes two versions.

The store never goes back on its own: a LATEST whose sequence is not above the one served (a replayed pointer), or
a version published before the served one, is refused unless LATEST says it was promoted on purpose
(``adaptml promote``). Refusal reasons are public (/readyz): S3 addresses are scrubbed from them, the log keeps them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from adaptml.errors import AdaptmlError, NotReady, RefusedVersion
from adaptml.registry import Latest, LoadedVersion, Registry
from adaptml.serving.compiled.derive import carry_fast_paths, derive_fast_paths
from adaptml.serving.compiled.gate import FastPath
from adaptml.serving.loaded import LoadedModels, load_models, smoke_test
from adaptml.serving.refusals import RefreshOutcome, Refusal, is_transient, named_by

__all__ = ["FAST_PATH_WAIT_SECONDS", "ModelStore"]

log = logging.getLogger(__name__)
FAST_PATH_WAIT_SECONDS = 120.0  # the most a caller waits for a version's fast paths (and shared steps)


class ModelStore:
    """The serving process's current model version, refreshed from the registry and swapped atomically."""

    def __init__(
        self,
        registry: Registry,
        *,
        loader: Callable[[LoadedVersion], LoadedModels] | None = None,
        smoke: Callable[[LoadedModels], None] = smoke_test,
        derive: Callable[[LoadedModels], LoadedModels] | None = derive_fast_paths,
    ) -> None:
        self.registry = registry
        self._loader = loader or self._load_reusing
        self._smoke = smoke
        self._derive = derive
        self._derived = threading.Event()
        self._derived.set()
        self._current: LoadedModels | None = None
        self._pointer: Latest | None = None  # the LATEST the served version came from
        self._refresh_lock = threading.Lock()
        self._last_refusal: Refusal | None = None
        self._last_error: Refusal | None = None
        self._listeners: list[Callable[[LoadedModels], None]] = []
        self._stop = threading.Event()
        self._retry_thread: threading.Thread | None = None

    # -- reading (lock-free: one reference read) -----------------------------------------------------
    @property
    def current(self) -> LoadedModels | None:
        return self._current

    @property
    def ready(self) -> bool:
        return self._current is not None

    @property
    def version(self) -> str | None:
        """The served version, or None before the first load."""
        current = self._current
        return current.version if current is not None else None

    def get(self) -> LoadedModels:
        """The served version, or NotReady explaining why there is none."""
        current = self._current
        if current is None:
            raise NotReady(f"no verified model version of {self.registry.project} is loaded yet: {self._why()}")
        return current

    def _why(self) -> str:
        error = self._last_error
        return error.reason if error else "loading has not been attempted yet"

    def on_swap(self, callback: Callable[[LoadedModels], None]) -> None:
        """Call ``callback(new_models)`` after every successful swap (metrics, caches, logs)."""
        self._listeners.append(callback)

    # -- refreshing ----------------------------------------------------------------------------------
    def refresh(self, version: str | None = None) -> RefreshOutcome:
        """Load the latest (or the given) version and swap to it if every check passes; never raises."""
        with self._refresh_lock:
            target, pointer = version, None
            try:
                expected = None
                if target is None:
                    pointer = self.registry.latest()
                    target, expected = pointer.version, pointer.manifest_sha256
                current = self._current
                if current is not None and current.version == target:
                    return RefreshOutcome("unchanged", target)
                self._check_forward(pointer)
                loaded = self.registry.load(target, expected_manifest_sha256=expected)
                self._check_not_older(loaded, pointer)
                models = self._loader(loaded)
                self._smoke(models)
            except Exception as error:  # noqa: BLE001 - every failure is a refusal; the old set keeps serving
                return self._refuse(target or named_by(error), error)
            carried = carry_fast_paths(models, current) if self._derive is not None else None
            self._current, self._pointer = carried or models, pointer
            self._last_error = None
            if carried is None:
                self._derive_later(models)  # switched already: the pipelines serve until the fast paths pass
            models = self._current
        log.info("serving %s version %s (%d models)", models.project, models.version, len(models.models))
        for callback in list(self._listeners):
            try:
                callback(models)
            except Exception:  # noqa: BLE001 - a listener must not undo a good swap
                log.exception("a model-swap listener failed")
        return RefreshOutcome("loaded", models.version)

    def _load_reusing(self, loaded: LoadedVersion) -> LoadedModels:
        """Unpickle a verified version, taking the models whose pickle is unchanged from the served version."""
        current = self._current
        return load_models(loaded, reuse=current.by_sha256() if current is not None else None)

    def _check_forward(self, pointer: Latest | None) -> None:
        """Refuse a LATEST that is not newer than the one served: an old signed pointer written back."""
        served = self._pointer
        if pointer is None or served is None or not (pointer.sequence and served.sequence):
            return
        if pointer.sequence <= served.sequence:
            raise RefusedVersion(
                f"LATEST (sequence {pointer.sequence}) is not newer than the one served ({served.sequence}): "
                "a replayed pointer"
            )

    def _check_not_older(self, loaded: LoadedVersion, pointer: Latest | None) -> None:
        """Refuse a version published before the served one, unless LATEST says it was promoted on purpose."""
        current = self._current
        if current is None or (pointer is not None and pointer.promoted):
            return
        served_at, offered_at = current.manifest.get("published_at"), loaded.manifest.get("published_at")
        if isinstance(served_at, str) and isinstance(offered_at, str) and offered_at < served_at:
            raise RefusedVersion(
                f"{loaded.version} was published before the served version {current.version}: "
                "only `adaptml promote` makes an older version live again"
            )

    # -- fast paths ----------------------------------------------------------------------------------
    def _derive_later(self, models: LoadedModels) -> None:
        """Compile and gate the new version's fast paths in a daemon thread; the pipelines serve meanwhile."""
        if self._derive is None:
            return
        self._derived.clear()
        threading.Thread(target=self._upgrade, args=(models,), name="adaptml-fast-paths", daemon=True).start()

    def _upgrade(self, models: LoadedModels) -> None:
        derive = self._derive
        assert derive is not None
        try:
            upgraded = derive(models)
        except Exception as error:  # noqa: BLE001 - a failed derivation leaves the pipelines serving
            log.exception("deriving the fast paths of %s failed", models.version)
            failed = FastPath(False, f"derivation failed: {type(error).__name__}: {error}")
            upgraded = replace(models, fast_paths=dict.fromkeys(models.models, failed))
        with self._refresh_lock:
            if self._current is models:  # a newer version may have been swapped in meanwhile
                self._current = upgraded
        if self._current is upgraded:  # else the newer version's own derivation signals
            self._derived.set()

    def wait_fast_paths(self, timeout: float | None = None) -> bool:
        """Wait until the served version's fast paths are derived (or none are being derived)."""
        return self._derived.wait(timeout)

    def _refuse(self, version: str | None, error: Exception) -> RefreshOutcome:
        detail = str(error) if isinstance(error, AdaptmlError) else f"{type(error).__name__}: {error}"
        transient = is_transient(error)
        if transient:
            detail = f"S3 could not be read: {detail[:300]}"
        log.warning("refused version %r of %s: %s", version or "?", self.registry.project, detail)
        record = Refusal.now(version, detail)
        reason = record.reason
        self._last_error = record
        if version is not None and not transient:  # an outage or a cut download is not the version's fault
            self._last_refusal = record
        return RefreshOutcome("refused", version, reason, transient)

    def refresh_within(self, seconds: float) -> bool:
        """Refresh in a daemon thread, waiting at most ``seconds``; whether a version is served by then.

        An S3 that accepts connections and never answers would otherwise hold a starting server for minutes
        (boto3's read timeout, retried), and gunicorn kills workers that take too long to boot.
        """
        done = threading.Event()

        def load() -> None:
            try:
                self.refresh()
            finally:
                done.set()

        threading.Thread(target=load, name="adaptml-first-load", daemon=True).start()
        done.wait(seconds)
        return self.ready

    # -- background retry until the first version is loaded -----------------------------------------
    def start_retry(self, *, initial: float = 1.0, maximum: float = 30.0) -> None:
        """Keep trying to load in a daemon thread, with backoff, until some version is served."""
        if self.ready or (self._retry_thread is not None and self._retry_thread.is_alive()):
            return
        self._stop.clear()
        thread = threading.Thread(
            target=self._retry_loop, args=(initial, maximum), name="adaptml-model-retry", daemon=True
        )
        self._retry_thread = thread
        thread.start()

    def _retry_loop(self, initial: float, maximum: float) -> None:
        delay = initial
        while not self.ready and not self._stop.wait(delay):
            self.refresh()
            delay = min(maximum, delay * 2)

    def close(self) -> None:
        """Stop the background retry thread (the served version stays readable)."""
        self._stop.set()
        thread = self._retry_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    # -- reporting -----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """For /readyz and /api/v1/models: the served version, when it was loaded, the last refusal."""
        current = self._current
        return {
            "ready": current is not None,
            "project": self.registry.project,
            "version": current.version if current else None,
            "loaded_at": current.loaded_at if current else None,
            "models": [{**info.to_dict(), "fast_path": _fast(current, info.name)} for info in current.infos]
            if current
            else [],
            "reason": None if current else self._why(),
            "last_refusal": asdict(self._last_refusal) if self._last_refusal else None,
            "last_error": asdict(self._last_error) if self._last_error else None,
        }


def _fast(models: LoadedModels, name: str) -> dict[str, Any]:
    path = models.fast_path(name)
    return {"enabled": path.enabled, "reason": path.reason, "gate": path.gate, "family": path.family}
