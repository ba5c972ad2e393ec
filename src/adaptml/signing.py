"""Ed25519 signatures for the model registry: who may publish, and what readers accept.

The publisher (``adaptml train``, ``adaptml promote``) holds the private key; apps and ``adaptml predict`` hold only
the public key, so a compromised app cannot sign a model. Keys come from the environment at the entry points:

    ADAPTML_SIGNING_KEY        the private key (PEM, or base64 of the raw 32 bytes): publishers only
    ADAPTML_VERIFY_KEY         the public key (PEM, or base64 of the raw 32 bytes): readers (derived from the
                               private key when only that is set)
    ADAPTML_INSECURE_UNSIGNED  "1" to accept unsigned versions (a loud warning is logged); never in production

Every signed payload is prefixed by its purpose (manifest or LATEST), so one kind of signature never passes for
the other. ``adaptml keygen`` prints a fresh pair.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from adaptml.errors import ConfigError

__all__ = [
    "INSECURE_ENV",
    "SIGNING_KEY_ENV",
    "VERIFY_KEY_ENV",
    "Keys",
    "canonical",
    "env_values",
    "private_key_pem",
    "public_key_pem",
    "warn_insecure",
    "write_key_pair",
]

SIGNING_KEY_ENV = "ADAPTML_SIGNING_KEY"
VERIFY_KEY_ENV = "ADAPTML_VERIFY_KEY"
INSECURE_ENV = "ADAPTML_INSECURE_UNSIGNED"
ALGORITHM = "ed25519"
_TRUE = {"1", "true", "yes", "on"}
_MIN_DISTINCT_BYTES = 12  # a random 32-byte seed has ~30; "aaaa..." or a counter is not a key
log = logging.getLogger(__name__)


def canonical(purpose: str, document: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: the purpose, then the document without its signature, as sorted JSON."""
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    body = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return f"adaptml-{purpose}-v1\n".encode() + body.encode("utf-8")


@dataclass(frozen=True)
class Keys:
    """The registry key material one process holds: the private key (publishers), the public key (everyone who
    loads), or neither with ``insecure_unsigned`` (unsigned versions accepted, loudly)."""

    private: Ed25519PrivateKey | None = field(default=None, repr=False)
    public: Ed25519PublicKey | None = None
    insecure_unsigned: bool = False

    def __post_init__(self) -> None:
        if self.private is not None and self.public is None:
            object.__setattr__(self, "public", self.private.public_key())

    @classmethod
    def generate(cls) -> Keys:
        return cls(private=Ed25519PrivateKey.generate())

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, insecure_unsigned: bool = False) -> Keys:
        """The keys an environment names (an entry point passes ``os.environ``); ConfigError when one is invalid."""
        private_text = environ.get(SIGNING_KEY_ENV, "").strip()
        public_text = environ.get(VERIFY_KEY_ENV, "").strip()
        private = _load_private(private_text) if private_text else None
        public = _load_public(public_text) if public_text else None
        if private is not None and public is not None and _raw(public) != _raw(private.public_key()):
            raise ConfigError(f"{VERIFY_KEY_ENV} is not the public half of {SIGNING_KEY_ENV}")
        insecure = insecure_unsigned or environ.get(INSECURE_ENV, "").strip().lower() in _TRUE
        return cls(private=private, public=public, insecure_unsigned=insecure)

    def reader(self) -> Keys:
        """These keys without the private half: what an app or ``adaptml predict`` should hold."""
        return Keys(public=self.public, insecure_unsigned=self.insecure_unsigned)

    @property
    def can_sign(self) -> bool:
        return self.private is not None

    @property
    def private_raw(self) -> bytes | None:
        """The private key's 32 raw bytes (to hand to another process of the same run), None without one."""
        return _private_raw(self.private) if self.private is not None else None

    @classmethod
    def from_private_raw(cls, raw: bytes | None) -> Keys | None:
        """The inverse of ``private_raw``: a publisher's keys, or None."""
        return cls(private=Ed25519PrivateKey.from_private_bytes(raw)) if raw else None

    @property
    def key_id(self) -> str:
        """A short fingerprint of the public key, recorded with each signature (names the key in refusals)."""
        return hashlib.sha256(_raw(self.public)).hexdigest()[:16] if self.public is not None else ""

    def sign(self, purpose: str, document: Mapping[str, Any]) -> dict[str, str]:
        """The ``signature`` entry for ``document``; ConfigError when no private key is held."""
        if self.private is None:
            raise ConfigError(f"no signing key: set {SIGNING_KEY_ENV} (see `adaptml keygen`)")
        value = self.private.sign(canonical(purpose, document))
        return {"alg": ALGORITHM, "key_id": self.key_id, "value": base64.b64encode(value).decode("ascii")}

    def problem(self, purpose: str, document: Mapping[str, Any]) -> str | None:
        """Why ``document`` must not be trusted, or None when it may be.

        With a public key: the signature must verify. Without one: refused unless ``insecure_unsigned``.
        """
        if self.public is None:
            if self.insecure_unsigned:
                return None
            return f"no verify key configured: set {VERIFY_KEY_ENV} (or {INSECURE_ENV}=1 to accept unsigned models)"
        signature = document.get("signature")
        if not isinstance(signature, Mapping) or signature.get("alg") != ALGORITHM:
            return f"{purpose} is not signed, and a verify key is configured"
        try:
            self.public.verify(
                base64.b64decode(str(signature.get("value")), validate=True), canonical(purpose, document)
            )
        except (InvalidSignature, binascii.Error, ValueError):
            other = signature.get("key_id") != self.key_id
            return f"{purpose} signature does not verify" + (" (signed by another key)" if other else "")
        return None


def _raw(key: Ed25519PublicKey | None) -> bytes:
    assert key is not None
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _decode_raw(text: str, name: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ConfigError(f"{name} is neither a PEM key nor base64 of 32 raw bytes (see `adaptml keygen`)") from error
    if len(raw) != 32:
        raise ConfigError(f"{name} must be an Ed25519 key: 32 raw bytes, got {len(raw)} (see `adaptml keygen`)")
    return _check_random(raw, name)


def _check_random(raw: bytes, name: str) -> bytes:
    if len(set(raw)) < _MIN_DISTINCT_BYTES:
        raise ConfigError(f"{name} is too weak to be a key (not random): generate one with `adaptml keygen`")
    return raw


def _load_private(text: str) -> Ed25519PrivateKey:
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"{SIGNING_KEY_ENV}: not a readable unencrypted PEM private key") from error
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{SIGNING_KEY_ENV} must be an Ed25519 private key")
        _check_random(_private_raw(key), SIGNING_KEY_ENV)
        return key
    return Ed25519PrivateKey.from_private_bytes(_decode_raw(text, SIGNING_KEY_ENV))


def _load_public(text: str) -> Ed25519PublicKey:
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, TypeError) as error:
            raise ConfigError(f"{VERIFY_KEY_ENV}: not a readable PEM public key") from error
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"{VERIFY_KEY_ENV} must be an Ed25519 public key")
        return key
    return Ed25519PublicKey.from_public_bytes(_decode_raw(text, VERIFY_KEY_ENV))


def _private_raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def env_values(keys: Keys) -> dict[str, str]:
    """The key pair as single-line environment values (base64 of the raw 32-byte keys)."""
    assert keys.private is not None and keys.public is not None
    return {
        SIGNING_KEY_ENV: base64.b64encode(_private_raw(keys.private)).decode("ascii"),
        VERIFY_KEY_ENV: base64.b64encode(_raw(keys.public)).decode("ascii"),
    }


def private_key_pem(keys: Keys) -> str:
    assert keys.private is not None
    return keys.private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_key_pem(keys: Keys) -> str:
    assert keys.public is not None
    return keys.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
        "ascii"
    )


def write_key_pair(keys: Keys, private_path: Path, public_path: Path) -> None:
    """Write both PEM files, readable by their owner only (0600), never overwriting an existing file."""
    for path, text in ((private_path, private_key_pem(keys)), (public_path, public_key_pem(keys))):
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as error:
            raise ConfigError(f"{path} exists already: not overwriting a key") from error
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(text)


def warn_insecure(what: str) -> None:
    """The loud warning every process that accepts unsigned versions logs once, at start."""
    log.warning(
        "!!! INSECURE: %s accepts UNSIGNED model versions (%s set, no %s): anyone who can write the bucket can run "
        "code in this process. Never do this in production.",
        what,
        INSECURE_ENV,
        VERIFY_KEY_ENV,
    )
