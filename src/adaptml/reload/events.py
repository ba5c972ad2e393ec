"""Pure parsing of S3 event notifications into the LATEST-pointer changes the reload path acts on.

Accepts what AWS and MinIO send: S3 ``Records`` (keys URL-encoded, spaces as '+'), the same wrapped in SQS or SNS
records, and S3's ``s3:TestEvent``. Everything that is not an ``ObjectCreated`` of ``[<prefix>/]<project>/LATEST``
is classified as ignored, with the reason, so the handler can log one line per record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

__all__ = ["LATEST_NAME", "EventRecord", "iter_records", "parse_event", "parse_record", "project_of"]

LATEST_NAME = "LATEST"


@dataclass(frozen=True)
class EventRecord:
    """One S3 event record, decoded; ``project`` is set only when it is a LATEST change worth notifying."""

    event_name: str
    bucket: str
    key: str
    event_time: str = ""
    sequencer: str = ""
    project: str | None = None
    ignored: str | None = None  # why it is not acted on

    @property
    def relevant(self) -> bool:
        return self.ignored is None and self.project is not None

    def identity(self) -> tuple[str, str]:
        """Records with the same identity need one notification: the app reads LATEST as it is now anyway."""
        return (self.bucket, self.key)


def project_of(key: str, prefix: str = "") -> str | None:
    """The project whose LATEST pointer ``key`` is, or None: ``<prefix>/<project>/LATEST`` exactly."""
    prefix = prefix.strip("/")
    rest = key
    if prefix:
        if not key.startswith(prefix + "/"):
            return None
        rest = key[len(prefix) + 1 :]
    parts = rest.split("/")
    if parts[-1] != LATEST_NAME or len(parts) < 2 or not parts[-2]:
        return None
    if prefix and len(parts) != 2:
        return None
    return parts[-2]


def iter_records(event: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every raw S3 record in an event, unwrapping SQS and SNS envelopes (their bodies are S3 events)."""
    for record in event.get("Records") or []:
        if not isinstance(record, Mapping):
            continue
        source = record.get("eventSource") or record.get("EventSource") or ""
        if source == "aws:sqs":
            yield from _records_in_body(record.get("body"))
        elif source == "aws:sns":
            yield from _records_in_body((record.get("Sns") or {}).get("Message"))
        else:
            yield record


def _records_in_body(body: Any) -> Iterator[Mapping[str, Any]]:
    try:
        inner = json.loads(body) if isinstance(body, str | bytes) else body
    except ValueError:
        yield {"eventName": "unparseable", "s3": {}}
        return
    if isinstance(inner, Mapping):
        if inner.get("Event") == "s3:TestEvent":
            yield {"eventName": "s3:TestEvent", "s3": {"bucket": {"name": inner.get("Bucket", "")}}}
        else:
            yield from iter_records(inner)


def parse_record(raw: Mapping[str, Any], *, prefix: str = "") -> EventRecord:
    """Decode one raw record and decide whether it is a LATEST change."""
    s3 = raw.get("s3") or {}
    name = str(raw.get("eventName", ""))
    bucket = str((s3.get("bucket") or {}).get("name", ""))
    obj = s3.get("object") or {}
    key = unquote_plus(str(obj.get("key", "")))
    base = {
        "event_name": name,
        "bucket": bucket,
        "key": key,
        "event_time": str(raw.get("eventTime", "")),
        "sequencer": str(obj.get("sequencer", "")),
    }
    if "ObjectCreated" not in name:
        return EventRecord(**base, ignored=f"event {name or '(none)'} is not ObjectCreated")
    project = project_of(key, prefix)
    if not bucket or project is None:
        where = f"{prefix.strip('/')}/<project>/{LATEST_NAME}" if prefix.strip("/") else f"<project>/{LATEST_NAME}"
        return EventRecord(**base, ignored=f"key is not {where}")
    return EventRecord(**base, project=project)


def parse_event(event: Mapping[str, Any], *, prefix: str = "") -> list[EventRecord]:
    """Every record of an event, decoded and classified, in order."""
    if event.get("Event") == "s3:TestEvent":
        return [EventRecord("s3:TestEvent", str(event.get("Bucket", "")), "", ignored="S3 test event")]
    return [parse_record(raw, prefix=prefix) for raw in iter_records(event)]
