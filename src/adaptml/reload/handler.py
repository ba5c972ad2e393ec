"""The reload Lambda: S3 ``ObjectCreated`` on ``<prefix>/<project>/LATEST`` -> a signed POST to every serving endpoint.

Environment:
    ADAPTML_RELOAD_TARGETS        comma-separated base URLs of the serving apps (``/api/v1/reload`` is appended)
    ADAPTML_RELOAD_SECRET         the HMAC secret, or
    ADAPTML_RELOAD_SECRET_PARAM   the name of an SSM SecureString parameter holding it
    ADAPTML_REGISTRY_PREFIX       optional key prefix of the registry inside the bucket (e.g. ``registry``)
    ADAPTML_RELOAD_ATTEMPTS       attempts per endpoint (default 4; backoff 0.25 s, doubling)
    ADAPTML_RELOAD_TIMEOUT        read timeout per attempt in seconds (default 5)

Duplicate and out-of-order events are harmless: the notification only says "LATEST changed"; each app then loads
what LATEST says at that moment. One JSON log line is written per event record.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from adaptml.errors import AdaptmlError
from adaptml.reload.delivery import Delivery, RetryPolicy, deliver
from adaptml.reload.events import EventRecord, parse_event
from adaptml.reload.signing import resolve_secret
from adaptml.version_names import check_version_name

__all__ = ["HandlerSettings", "handler", "notification_body", "process_event", "reset_clients"]

TARGETS_ENV = "ADAPTML_RELOAD_TARGETS"
PREFIX_ENV = "ADAPTML_REGISTRY_PREFIX"
ATTEMPTS_ENV = "ADAPTML_RELOAD_ATTEMPTS"
TIMEOUT_ENV = "ADAPTML_RELOAD_TIMEOUT"


@dataclass(frozen=True)
class HandlerSettings:
    """What the handler needs to know, read once per cold start."""

    targets: tuple[str, ...]
    secret: bytes | None = field(repr=False)
    prefix: str = ""
    policy: RetryPolicy = RetryPolicy()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, ssm_client: Any = None) -> HandlerSettings:
        environ = os.environ if environ is None else environ
        targets = tuple(t.strip() for t in environ.get(TARGETS_ENV, "").split(",") if t.strip())
        policy = RetryPolicy(
            attempts=max(1, int(environ.get(ATTEMPTS_ENV, "4"))),
            read_timeout=float(environ.get(TIMEOUT_ENV, "5")),
        )
        secret = resolve_secret(environ, ssm_client=(lambda: ssm_client) if ssm_client is not None else None)
        return cls(targets, secret, environ.get(PREFIX_ENV, "").strip("/"), policy)


@dataclass
class _Runtime:
    settings: HandlerSettings
    s3: Any
    session: requests.Session


_runtime: _Runtime | None = None
_runtime_lock = threading.Lock()


def _get_runtime() -> _Runtime:
    """Clients and settings built once per cold start and reused by every warm invocation."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = _Runtime(HandlerSettings.from_env(), _s3_client(), requests.Session())
        return _runtime


def _s3_client() -> Any:
    """boto3's own configuration chain; imported here, not adaptml.storage, to keep pandas out of the Lambda."""
    import boto3
    from botocore.config import Config as BotoConfig

    config = BotoConfig(
        connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}, s3={"addressing_style": "path"}
    )
    return boto3.session.Session().client("s3", config=config)


def reset_clients() -> None:
    """Forget the cached clients and settings (the next call reads the environment again)."""
    global _runtime
    with _runtime_lock:
        _runtime = None


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """The Lambda entry point: notify every configured endpoint of each LATEST change in ``event``."""
    try:
        runtime = _get_runtime()
    except (AdaptmlError, ValueError) as error:
        _log({"level": "error", "msg": "reload handler is misconfigured", "error": str(error)})
        return {"ok": False, "records": 0, "notified": 0, "failures": [{"error": str(error)}]}
    return process_event(event, settings=runtime.settings, s3=runtime.s3, session=runtime.session)


def process_event(
    event: Mapping[str, Any],
    *,
    settings: HandlerSettings,
    s3: Any,
    session: requests.Session,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Classify every record, notify once per distinct LATEST key, log one line per record, summarise."""
    records = parse_event(event, prefix=settings.prefix)
    summary: dict[str, Any] = {"records": len(records), "notified": 0, "ignored": 0, "duplicates": 0, "failures": []}
    seen: set[tuple[str, str]] = set()
    for index, record in enumerate(records):
        line: dict[str, Any] = {"level": "info", "msg": "s3 event record", "record": index, **_describe(record)}
        if not record.relevant:
            summary["ignored"] += 1
            line.update(outcome="ignored", reason=record.ignored)
        elif record.identity() in seen:
            summary["duplicates"] += 1
            line.update(outcome="duplicate", reason="same LATEST key already notified in this event")
        else:
            seen.add(record.identity())
            version = read_version(s3, record.bucket, record.key)
            deliveries = _notify_all(record, version, settings, session, sleep)
            failed = [d for d in deliveries if not d.ok]
            summary["notified"] += 1
            summary["failures"].extend({"key": record.key, **d.to_dict()} for d in failed)
            line.update(
                outcome="failed" if failed else "notified",
                version=version,
                deliveries=[d.to_dict() for d in deliveries],
                level="error" if failed else "info",
            )
        _log(line)
    summary["ok"] = not summary["failures"]
    return summary


def _describe(record: EventRecord) -> dict[str, Any]:
    fields = {
        "event_name": record.event_name,
        "bucket": record.bucket,
        "key": record.key,
        "project": record.project,
        "event_time": record.event_time,
        "sequencer": record.sequencer,
    }
    return {k: v for k, v in fields.items() if v}


def notification_body(record: EventRecord, version: str | None) -> bytes:
    """The JSON the apps receive (and the bytes that are signed)."""
    payload: dict[str, Any] = {
        "bucket": record.bucket,
        "key": record.key,
        "project": record.project,
        "event_time": record.event_time,
        "sequencer": record.sequencer,
    }
    if version:
        payload["version"] = version
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


def read_version(s3: Any, bucket: str, key: str) -> str | None:
    """The version LATEST names right now, or None when it cannot be read or is no valid version name (it goes
    into logs and notifications; the apps read and verify LATEST themselves)."""
    try:
        raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return check_version_name(json.loads(raw)["version"])
    except Exception:  # noqa: BLE001 - the version is informative only; any failure just omits it
        return None


def _notify_all(
    record: EventRecord,
    version: str | None,
    settings: HandlerSettings,
    session: requests.Session,
    sleep: Callable[[float], None],
) -> list[Delivery]:
    if not settings.targets:
        return [Delivery("(none)", False, 0, error=f"no endpoints configured in {TARGETS_ENV}")]
    secret = settings.secret
    if not secret:
        return [
            Delivery(t, False, 0, error="no reload secret configured; refusing to send unsigned")
            for t in settings.targets
        ]
    body = notification_body(record, version)

    def one(target: str) -> Delivery:
        return deliver(session, target, body, secret, policy=settings.policy, sleep=sleep)

    if len(settings.targets) == 1:
        return [one(settings.targets[0])]
    with ThreadPoolExecutor(max_workers=min(8, len(settings.targets))) as pool:
        return list(pool.map(one, settings.targets))


def _log(line: Mapping[str, Any]) -> None:
    """One structured line on stdout (CloudWatch in AWS, the container log elsewhere)."""
    sys.stdout.write(json.dumps({"logger": "adaptml.reload", **line}, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
