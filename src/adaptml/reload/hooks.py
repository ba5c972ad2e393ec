"""The serving app's side of reloading: the signed reload endpoint and the per-process watcher.

``POST /api/v1/reload`` (signed by the Lambda): no signature -> 401, a wrong one -> 403, no secret configured -> 403;
a good one -> 202 at once, and the refresh runs on the watcher thread, off the request path. The receiving process
also announces the change to its siblings on the host (see ``adaptml.reload.watch``). ``GET /api/v1/reload`` shows
what every serving process on this host is serving.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

from flask import Blueprint, Flask, Response, jsonify, request

from adaptml.errors import (
    InputError,
    PayloadTooLarge,
    PermissionDenied,
    RefusedVersion,
    StorageError,
    StoreGone,
    Unauthenticated,
)
from adaptml.registry import Registry
from adaptml.reload.delivery import RELOAD_PATH
from adaptml.reload.runtime import default_runtime_dir, read_statuses
from adaptml.reload.signing import SECRET_ENV, SECRET_PARAM_ENV, SIGNATURE_HEADER, verify_signature
from adaptml.reload.watch import ReloadWorker, StoreHooks

__all__ = [
    "EXTENSION_KEY",
    "MAX_NOTIFICATION_BYTES",
    "RefreshReport",
    "ReloadableStore",
    "create_blueprint",
    "init_reload",
    "store_hooks",
]

EXTENSION_KEY = "adaptml.reload"
MAX_NOTIFICATION_BYTES = 64 * 1024
log = logging.getLogger("adaptml.reload")


class RefreshReport(Protocol):
    """What a store's refresh says it did (``adaptml.serving.store.RefreshOutcome``)."""

    @property
    def action(self) -> str: ...
    @property
    def version(self) -> str | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def transient(self) -> bool: ...


class ReloadableStore(Protocol):
    """What reloading needs of the serving app's model store (``adaptml.serving.store.ModelStore``)."""

    @property
    def registry(self) -> Registry: ...
    @property
    def version(self) -> str | None: ...
    def refresh(self) -> RefreshReport: ...


def init_reload(
    app: Flask,
    store: ReloadableStore,
    *,
    poll_seconds: float,
    secret: bytes | None,
    runtime_dir: Path | None = None,
) -> ReloadWorker:
    """Attach the reload endpoint to ``app`` and start this process's watcher for ``store``.

    No ``secret``: the endpoint refuses every notification (polling still works). ``runtime_dir`` defaults to a
    per-project temp dir shared by the host's processes.
    """
    registry = store.registry
    worker = ReloadWorker(
        store_hooks(store),
        runtime_dir or default_runtime_dir(registry.project, str(registry.root)),
        poll_seconds=poll_seconds,
    )
    app.extensions[EXTENSION_KEY] = worker
    app.register_blueprint(create_blueprint(worker, secret))
    # Threads do not survive a fork: each gunicorn worker (re)starts its own on its first request too.
    app.before_request(worker.ensure_started)
    worker.ensure_started()
    return worker


def store_hooks(store: ReloadableStore) -> StoreHooks:
    """Adapt a ModelStore to the watcher, holding it weakly so a discarded app's watcher ends."""
    ref = weakref.ref(store)

    def live() -> ReloadableStore:
        found = ref()
        if found is None:
            raise StoreGone("the model store was discarded")
        return found

    def refresh() -> None:
        outcome = live().refresh()
        if outcome.action != "refused":
            return
        reason = outcome.reason or "refused"
        if outcome.transient or outcome.version is None or not _reachable(live()):
            raise StorageError(reason)  # S3 trouble, not a bad version: the watcher retries with backoff
        raise RefusedVersion(reason)  # settled: the store recorded why; wait for LATEST to change

    return StoreHooks(
        refresh=refresh,
        current_version=lambda: live().version,
        latest_etag=lambda: live().registry.latest_etag(),
        latest_version=lambda: live().registry.latest().version,
        transient=(StorageError,),
        alive=lambda: ref() is not None,
    )


def _reachable(store: ReloadableStore) -> bool:
    try:
        store.registry.latest_etag()
    except StorageError:
        return False
    return True


def create_blueprint(worker: ReloadWorker, secret: bytes | None) -> Blueprint:
    """The reload endpoint; the route only authenticates, announces and pokes the watcher.

    Refusals are adaptml errors, answered by the app's error handlers in the API's JSON error shape.
    """
    blueprint = Blueprint("reload", __name__)
    accepted = _SeenSignatures()

    @blueprint.post(RELOAD_PATH)
    def reload() -> tuple[Response, int]:
        body = request.stream.read(MAX_NOTIFICATION_BYTES + 1)  # never buffer more than a notification can be
        signature = request.headers.get(SIGNATURE_HEADER)
        _authenticate(secret, body, signature)
        if not accepted.first_time(str(signature)):  # within its time window a notification counts once
            raise PermissionDenied(f"replayed {SIGNATURE_HEADER}: this notification was already accepted")
        notice = _notice(body)
        _announce(worker, notice)
        return jsonify(accepted=True, notified_version=notice.get("version"), pid=os.getpid(), **_serving(worker)), 202

    @blueprint.get(RELOAD_PATH)
    def reload_status() -> tuple[Response, int]:
        return jsonify(this_process=worker.status(), processes=read_statuses(worker.runtime_dir)), 200

    return blueprint


class _SeenSignatures:
    """The signatures this process accepted lately (bounded): a captured notification replayed within its time
    window is refused. Each signature names its timestamp, so one older than the window never verifies anyway."""

    def __init__(self, capacity: int = 4096) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def first_time(self, signature: str) -> bool:
        with self._lock:
            if signature in self._seen:
                return False
            self._seen[signature] = None
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True


def _authenticate(secret: bytes | None, body: bytes, signature: str | None) -> None:
    """Raise the refusal unless the request may reload (a refused request reloads nothing)."""
    if not secret:
        raise PermissionDenied(f"reload endpoint disabled: set {SECRET_ENV} or {SECRET_PARAM_ENV} on the server")
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise PayloadTooLarge(f"notification larger than {MAX_NOTIFICATION_BYTES} bytes")
    if not signature:
        raise Unauthenticated(f"missing {SIGNATURE_HEADER} header")
    if not verify_signature(secret, body, signature):
        raise PermissionDenied(f"bad {SIGNATURE_HEADER} signature")


def _notice(body: bytes) -> dict[str, Any]:
    try:
        notice = json.loads(body) if body else {}
    except ValueError as error:
        raise InputError("the notification body is not JSON") from error
    if not isinstance(notice, dict):
        raise InputError("the notification body must be a JSON object")
    return notice


def _announce(worker: ReloadWorker, notice: dict[str, Any]) -> None:
    """Tell sibling processes through the runtime file, and wake this process's watcher now."""
    fields: dict[str, Any] = {
        k: notice.get(k) for k in ("project", "version", "key", "event_time", "sequencer") if k in notice
    }
    try:
        worker.signal.announce(fields)
        worker.poke()
    except OSError as error:
        log.warning("cannot announce the reload to sibling processes (%s); reloading this one only", error)
        worker.poke("notified")


def _serving(worker: ReloadWorker) -> dict[str, Any]:
    try:
        return {"serving_version": worker.hooks.current_version()}
    except Exception:  # noqa: BLE001 - the status is informative only
        return {}
