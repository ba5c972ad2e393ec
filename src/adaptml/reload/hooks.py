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
import weakref
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from adaptml.errors import StorageError
from adaptml.reload.delivery import RELOAD_PATH
from adaptml.reload.signing import SECRET_ENV, SECRET_PARAM_ENV, SIGNATURE_HEADER, resolve_secret, verify_signature
from adaptml.reload.watch import ReloadWorker, StoreGone, StoreHooks, default_runtime_dir, read_statuses

__all__ = ["EXTENSION_KEY", "MAX_NOTIFICATION_BYTES", "create_blueprint", "init_reload", "store_hooks"]

EXTENSION_KEY = "adaptml.reload"
MAX_NOTIFICATION_BYTES = 64 * 1024
DEFAULT_POLL_SECONDS = 10.0
log = logging.getLogger("adaptml.reload")


def init_reload(
    app: Flask,
    store: Any,
    *,
    poll_seconds: float | None = None,
    secret: bytes | None = None,
    runtime_dir: Path | None = None,
) -> ReloadWorker:
    """Attach the reload endpoint to ``app`` and start this process's watcher for ``store``.

    ``poll_seconds`` defaults to the app's ``settings.serving.poll_seconds``; ``secret`` to the environment (or
    SSM); ``runtime_dir`` to ``$ADAPTML_RUNTIME_DIR`` or a per-project temp dir shared by the host's processes.
    """
    registry = store.registry
    worker = ReloadWorker(
        store_hooks(store),
        runtime_dir or default_runtime_dir(registry.project, str(registry.root)),
        poll_seconds=_poll_seconds(app, store) if poll_seconds is None else poll_seconds,
    )
    if secret is None:
        try:
            secret = resolve_secret()
        except Exception as error:  # noqa: BLE001 - a broken secret source disables the endpoint, not the app
            log.error("reload endpoint disabled: %s", error)
    app.extensions[EXTENSION_KEY] = worker
    app.register_blueprint(create_blueprint(worker, secret))
    # Threads do not survive a fork: each gunicorn worker (re)starts its own on its first request too.
    app.before_request(worker.ensure_started)
    worker.ensure_started()
    return worker


def _poll_seconds(app: Flask, store: Any) -> float:
    """``serving.poll_seconds`` of the app's settings (the serving state, or the store's own settings)."""
    for holder in (app.extensions.get("adaptml"), store):
        serving = getattr(getattr(holder, "settings", None), "serving", None)
        value = getattr(serving, "poll_seconds", None)
        if isinstance(value, int | float):
            return float(value)
    return DEFAULT_POLL_SECONDS


def store_hooks(store: Any) -> StoreHooks:
    """Adapt a ModelStore to the watcher, holding it weakly so a discarded app's watcher ends."""
    ref = weakref.ref(store)

    def live() -> Any:
        found = ref()
        if found is None:
            raise StoreGone()
        return found

    def current_version() -> str | None:
        status = live().status()
        version = status.get("version") if isinstance(status, dict) else getattr(status, "version", None)
        return str(version) if version else None

    def latest_version() -> str | None:
        return str(live().registry.latest().version)

    def refresh() -> None:
        outcome = live().refresh()
        if getattr(outcome, "action", None) != "refused":
            return
        reason = str(getattr(outcome, "reason", "") or "refused")
        transient = getattr(outcome, "transient", False) or getattr(outcome, "version", None) is None
        if transient or not _reachable(live()):
            raise StorageError(reason)  # S3 trouble, not a bad version: the watcher retries with backoff
        raise RefusedVersion(reason)  # settled: the store recorded why; wait for LATEST to change

    return StoreHooks(
        refresh=refresh,
        current_version=current_version,
        latest_etag=lambda: live().registry.latest_etag(),
        latest_version=latest_version,
        transient=(StorageError,),
        alive=lambda: ref() is not None,
    )


class RefusedVersion(Exception):
    """The store refused the version LATEST names (it records why); retrying the same version would not help."""


def _reachable(store: Any) -> bool:
    try:
        store.registry.latest_etag()
    except StorageError:
        return False
    return True


def create_blueprint(worker: ReloadWorker, secret: bytes | None) -> Blueprint:
    """The reload endpoint; the route only authenticates, announces and pokes the watcher."""
    blueprint = Blueprint("reload", __name__)

    @blueprint.post(RELOAD_PATH)
    def reload() -> tuple[Response, int]:
        body = request.stream.read(MAX_NOTIFICATION_BYTES + 1)  # never buffer more than a notification can be
        refused = _authenticate(secret, body, request.headers.get(SIGNATURE_HEADER))
        if refused is not None:
            return refused
        try:
            notice = json.loads(body) if body else {}
        except ValueError:
            return jsonify(error="the notification body is not JSON"), 400
        if not isinstance(notice, dict):
            return jsonify(error="the notification body must be a JSON object"), 400
        _announce(worker, notice)
        return jsonify(accepted=True, notified_version=notice.get("version"), pid=os.getpid(), **_serving(worker)), 202

    @blueprint.get(RELOAD_PATH)
    def reload_status() -> tuple[Response, int]:
        return jsonify(this_process=worker.status(), processes=read_statuses(worker.runtime_dir)), 200

    return blueprint


def _authenticate(secret: bytes | None, body: bytes, signature: str | None) -> tuple[Response, int] | None:
    """None when the request may reload; otherwise the refusal (nothing is reloaded)."""
    if not secret:
        message = f"reload endpoint disabled: set {SECRET_ENV} or {SECRET_PARAM_ENV} on the server"
        return jsonify(error=message), 403
    if len(body) > MAX_NOTIFICATION_BYTES:
        return jsonify(error=f"notification larger than {MAX_NOTIFICATION_BYTES} bytes"), 413
    if not signature:
        return jsonify(error=f"missing {SIGNATURE_HEADER} header"), 401
    if not verify_signature(secret, body, signature):
        return jsonify(error=f"bad {SIGNATURE_HEADER} signature"), 403
    return None


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
