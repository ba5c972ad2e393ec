"""The per-host runtime directory where a host's serving processes meet: private (0700), with the file one process
rewrites to tell its siblings that LATEST changed (``SiblingSignal``) and each process's status file
(``workers/<pid>-<n>.json``, read by ``read_statuses``)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from adaptml.errors import ConfigError

__all__ = ["SiblingSignal", "default_runtime_dir", "private_dir", "read_statuses", "write_atomically"]


def default_runtime_dir(project: str, registry_uri: str = "") -> Path:
    """A fresh private directory (0700, unpredictable name) for one process's reload state.

    Never a fixed path under the shared temp dir, where another user could plant the directory first. Processes
    that must share one (gunicorn's workers) are given it: ``ADAPTML_RUNTIME_DIR``, or the per-user directory the
    serving settings derive from ``XDG_RUNTIME_DIR``.
    """
    tag = hashlib.sha256(registry_uri.encode("utf-8")).hexdigest()[:8]
    return Path(tempfile.mkdtemp(prefix=f"adaptml-{project}-{tag}-"))


def private_dir(path: Path) -> Path:
    """``path``, created 0700 when missing; refused when another user owns it or others may write into it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    stat = path.lstat()
    if path.is_symlink() or stat.st_uid != os.geteuid() or stat.st_mode & 0o022:
        raise ConfigError(
            f"{path} is not a private directory (a symlink, owned by another user, or writable by others): "
            "choose a directory only this user can write"
        )
    return path


def write_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Replace ``path`` in one step: readers see the old or the new file, and its inode always changes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, sort_keys=True, default=str)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class SiblingSignal:
    """The file one process rewrites to tell the other processes on the host that LATEST changed."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notified.json"

    def announce(self, payload: dict[str, Any]) -> None:
        write_atomically(self.path, {**payload, "announced_at": time.time(), "by_pid": os.getpid()})

    def fingerprint(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def read_statuses(directory: Path) -> list[dict[str, Any]]:
    """The last status every live serving process on this host wrote; dead processes' files are removed."""
    statuses = []
    for path in sorted((directory / "workers").glob("*.json")):
        try:
            status = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if _alive(int(status.get("pid", 0))):
            statuses.append(status)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return statuses


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
