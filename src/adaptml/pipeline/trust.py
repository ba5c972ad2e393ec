"""Workspace trust: each run's secret key, and the tag (HMAC-SHA256) that binds an artifact's bytes to its path.

Anyone who can write the bucket can write a run's workspace, so nothing read from it is trusted unless its tag
verifies with the run's key, which never goes to S3. With the publisher's signing key (its private half) the key is
derived from it, so every process that may publish re-derives it; without one it is a random key kept for the run in
the user's private cache directory, so a resumed run on the same machine reuses it (elsewhere, the run is rebuilt).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
from pathlib import Path

from adaptml.errors import ConfigError

__all__ = ["KEY_BYTES", "artifact_tag", "default_key_dir", "local_run_key", "workspace_key"]

KEY_BYTES = 32
_KEY_LABEL = b"adaptml/workspace-key/v1\x00"
_TAG_LABEL = b"adaptml/workspace-artifact/v1\x00"
_RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_log = logging.getLogger(__name__)


def artifact_tag(key: bytes, path: str, data: bytes) -> str:
    """The tag of one artifact: it binds the bytes to their path, so no artifact can stand in for another."""
    mac = hmac.new(key, _TAG_LABEL + path.encode("utf-8") + b"\x00", hashlib.sha256)
    mac.update(data)
    return mac.hexdigest()


def workspace_key(run_id: str, signing_key: bytes | None = None, *, key_dir: Path | None = None) -> bytes:
    """The run's workspace key: derived from the publisher's private signing key, or this machine's key for the run."""
    if not _RUN_ID.fullmatch(run_id):
        raise ConfigError(f"not a run id: {run_id!r}")
    if signing_key:
        return hmac.new(signing_key, _KEY_LABEL + run_id.encode("ascii"), hashlib.sha256).digest()
    return local_run_key(run_id, key_dir or default_key_dir())


def default_key_dir() -> Path:
    """``$XDG_CACHE_HOME/adaptml/workspace-keys`` (``~/.cache`` when unset or not absolute)."""
    cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    return base / "adaptml" / "workspace-keys"


def local_run_key(run_id: str, directory: Path) -> bytes:
    """This machine's random key for a run, created on first use as a 0600 file in a 0700 directory of the user."""
    _private_directory(directory)
    path = directory / f"{run_id}.key"
    key = _read_private(path)
    if key is None:
        _install_new_key(path, replace=os.path.lexists(path))
        key = _read_private(path)
    if key is None:
        raise ConfigError(f"cannot keep a private workspace key at {path}")
    return key


def _private_directory(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ConfigError(f"{directory} is not a directory of this user: refusing to keep workspace keys there")
    if stat.S_IMODE(info.st_mode) & 0o077:
        directory.chmod(0o700)


def _read_private(path: Path) -> bytes | None:
    """The key in ``path``; None when it is missing or not a private key file of this user (it is then replaced)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError:  # a symbolic link, for one
        _log.warning("%s is not a regular file: replacing this run's workspace key", path)
        return None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        key = handle.read(KEY_BYTES + 1)
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077 or len(key) != KEY_BYTES:
        _log.warning("%s is not a private %d-byte key: replacing it (the run's workspace is rebuilt)", path, KEY_BYTES)
        return None
    return key


def _install_new_key(path: Path, *, replace: bool) -> None:
    """Write a fresh key atomically; when another process created one first (no ``replace``), theirs wins."""
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secrets.token_bytes(KEY_BYTES))
    try:
        if replace:
            os.replace(scratch, path)
        else:
            os.link(scratch, path)
    except FileExistsError:
        pass
    finally:
        scratch.unlink(missing_ok=True)
