"""HMAC-SHA256 signatures over a notification's raw body, and where the shared secret comes from.

The Lambda signs, the app verifies; both read the secret the same way: ``ADAPTML_RELOAD_SECRET`` itself, or the SSM
parameter named by ``ADAPTML_RELOAD_SECRET_PARAM`` (a SecureString, decrypted on read). A weak secret (short,
repetitive, or a default published in this repository) is refused: ``python -c "import secrets;
print(secrets.token_hex(32))"`` makes a good one.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any

from adaptml.errors import ConfigError

__all__ = [
    "SECRET_ENV",
    "SECRET_PARAM_ENV",
    "SIGNATURE_HEADER",
    "resolve_secret",
    "strong_secret",
    "sign_body",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Adaptml-Signature"
SECRET_ENV = "ADAPTML_RELOAD_SECRET"
SECRET_PARAM_ENV = "ADAPTML_RELOAD_SECRET_PARAM"
_SCHEME = "sha256="
MIN_SECRET_CHARS = 16
_MIN_DISTINCT_CHARS = 8
_PUBLISHED_DEFAULTS = frozenset({"compose-demo-reload-secret", "changeme", "secret", "password"})


MAX_AGE_SECONDS = 300  # a notification older (or further in the future) than this is a replay, refused


def _mac(secret: bytes, stamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{stamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def sign_body(secret: bytes, body: bytes, *, now: float | None = None) -> str:
    """The header value for ``body``: ``t=<unix seconds>,sha256=<hex HMAC-SHA256(secret, "<t>." + body)>``.

    The signed timestamp bounds how long a captured notification can be replayed (``MAX_AGE_SECONDS``).
    """
    stamp = int(time.time() if now is None else now)
    return f"t={stamp},{_SCHEME}{_mac(secret, stamp, body)}"


def verify_signature(secret: bytes, body: bytes, header: str, *, now: float | None = None) -> bool:
    """True when ``header`` signs ``body`` under ``secret`` with a timestamp within ``MAX_AGE_SECONDS`` of now."""
    stamp_part, _, mac_part = header.strip().partition(",")
    if not stamp_part.startswith("t=") or not mac_part.startswith(_SCHEME) or not stamp_part[2:].isdigit():
        return False
    stamp = int(stamp_part[2:])
    if abs((time.time() if now is None else now) - stamp) > MAX_AGE_SECONDS:
        return False
    expected = _SCHEME + _mac(secret, stamp, body)
    return hmac.compare_digest(mac_part.encode("ascii", "replace"), expected.encode("ascii"))


def resolve_secret(
    environ: Mapping[str, str],
    *,
    ssm_client: Callable[[], Any] | None = None,
) -> bytes | None:
    """The shared secret an environment gives, directly or through SSM; None when it gives neither.

    Entry points pass ``os.environ``. ``ssm_client`` makes the SSM client only when a parameter is named, so
    plain-env setups never touch SSM.
    """
    direct = environ.get(SECRET_ENV, "")
    if direct:
        return strong_secret(direct, SECRET_ENV)
    name = environ.get(SECRET_PARAM_ENV, "")
    if not name:
        return None
    client = ssm_client() if ssm_client is not None else _default_ssm_client()
    try:
        value = client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except Exception as error:  # noqa: BLE001 - botocore raises many kinds; all mean "no secret"
        raise ConfigError(f"cannot read the reload secret from SSM parameter {name!r}: {error}") from error
    if not value:
        raise ConfigError(f"SSM parameter {name!r} holding the reload secret is empty")
    return strong_secret(str(value), f"SSM parameter {name!r}")


def strong_secret(value: str, source: str) -> bytes:
    """``value`` as bytes when it is fit to be a shared secret; ConfigError (naming ``source``, never the value)."""
    if value.strip().lower() in _PUBLISHED_DEFAULTS:
        raise ConfigError(f"{source} is a published default, not a secret: generate one")
    if len(value) < MIN_SECRET_CHARS or len(set(value)) < _MIN_DISTINCT_CHARS:
        raise ConfigError(f"{source} is too weak: at least {MIN_SECRET_CHARS} varied characters (generate one)")
    return value.encode("utf-8")


def _default_ssm_client() -> Any:
    import boto3

    return boto3.session.Session().client("ssm")
