"""Signed HTTP delivery of one notification to one serving endpoint, retried with exponential backoff.

Connection errors, timeouts, 429 and 5xx are retried; any other 4xx is final (a wrong secret will not fix itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import requests

from adaptml.reload.signing import SIGNATURE_HEADER, sign_body

__all__ = ["RELOAD_PATH", "Delivery", "RetryPolicy", "deliver", "reload_url"]

RELOAD_PATH = "/api/v1/reload"


@dataclass(frozen=True)
class RetryPolicy:
    """Few attempts with short timeouts: a Lambda should not hang on a dead endpoint."""

    attempts: int = 4
    backoff_seconds: float = 0.25  # doubled after every failed attempt
    connect_timeout: float = 2.0
    read_timeout: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(self.backoff_seconds * (2 ** (attempt - 1)))


@dataclass(frozen=True)
class Delivery:
    """What happened to one POST: the last status or error, and how many attempts it took."""

    target: str
    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def reload_url(base: str) -> str:
    """A serving endpoint's reload URL from its base URL (a full reload URL is kept as it is)."""
    base = base.strip().rstrip("/")
    return base if base.endswith(RELOAD_PATH) else base + RELOAD_PATH


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def deliver(
    session: requests.Session,
    target: str,
    body: bytes,
    secret: bytes,
    *,
    policy: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, so sharing the default is safe
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST ``body`` signed with ``secret`` to ``target``'s reload URL until accepted or out of attempts."""
    url = reload_url(target)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign_body(secret, body)}
    status: int | None = None
    error: str | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            response = session.post(
                url, data=body, headers=headers, timeout=(policy.connect_timeout, policy.read_timeout)
            )
            status, error = response.status_code, None
            if response.ok:
                return Delivery(url, True, attempt, status)
            error = f"HTTP {status}: {response.text[:200].strip()}"
            if not _retryable(status):
                return Delivery(url, False, attempt, status, error)
        except requests.RequestException as exc:
            status, error = None, f"{exc.__class__.__name__}: {exc}"[:300]
        if attempt < policy.attempts:
            sleep(policy.delay(attempt))
    return Delivery(url, False, policy.attempts, status, error)
