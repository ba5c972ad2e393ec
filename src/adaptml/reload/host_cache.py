"""Version files downloaded once per host, in parallel, and shared by every serving process on it.

Every gunicorn worker loads each new version itself; without this each would download all of it from S3, file after
file. ``HostCachedStorage`` wraps the registry's storage: the first file a process reads of a version starts
downloading all of that version's files (as its manifest lists them) in parallel into a directory the host's
workers share, one process per file (an exclusive file lock), the others reading the finished file. Published
versions are immutable, so a file's address names its content for good. A file whose content (the manifest's sha256
and size) is that of the same file in a version kept on disk is copied from there instead of downloaded: a model
that did not change between versions costs no transfer.

Trust is unchanged: the registry still verifies the manifest's signature and every file's sha256 and size, on the
bytes this returns, before anything is unpickled. The cache only saves transfers; a cached file that does not match
the manifest's sha256 is deleted and downloaded again, so a damaged copy costs one download, never a version.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from adaptml.storage import S3Uri, Storage

__all__ = ["HostCachedStorage"]

MANIFEST = "manifest.json"
KEPT_VERSIONS = 3  # version folders kept on disk (the newest by use); older ones are removed
DOWNLOADS = 8  # files of one version downloaded at once


def _safe_parts(path: str) -> list[str] | None:
    parts = path.split("/")
    ok = all(part not in ("", ".", "..") and "\\" not in part and "\x00" not in part for part in parts)
    return parts if ok else None


class HostCachedStorage(Storage):
    """A Storage whose reads of ``<versions>/<version>/<file>`` are served from (and shared through) ``folder``."""

    def __init__(self, storage: Storage, versions: S3Uri, folder: Path) -> None:
        super().__init__()
        self._inner = storage
        self._versions = versions.key.rstrip("/") + "/"
        self._bucket = versions.bucket
        self._folder = folder
        self._manifests: dict[str, dict[str, Any]] = {}  # version -> its (not yet trusted) file list
        self._fetches: dict[tuple[str, str], Future[bytes]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(DOWNLOADS, thread_name_prefix="adaptml-version-files")

    @property
    def client(self) -> Any:
        return self._inner.client

    def get_bytes(self, uri: str | S3Uri) -> bytes:
        loc = uri if isinstance(uri, S3Uri) else S3Uri.parse(uri)
        version, _, path = loc.key.removeprefix(self._versions).partition("/")
        if loc.bucket != self._bucket or not loc.key.startswith(self._versions) or not version or not path:
            return self._inner.get_bytes(loc)
        if path == MANIFEST:
            data = self._inner.get_bytes(loc)
            self._remember(version, data)
            return data
        if _safe_parts(path) is None:
            return self._inner.get_bytes(loc)
        self._prefetch(version)
        future = self._fetch(version, path)
        try:
            return future.result()
        finally:
            with self._lock:  # read once per load: the bytes are not kept here
                if self._fetches.get((version, path)) is future:
                    del self._fetches[(version, path)]

    def _remember(self, version: str, data: bytes) -> None:
        with contextlib.suppress(ValueError, AttributeError):
            files = json.loads(data).get("files")
            if isinstance(files, dict):
                with self._lock:
                    self._manifests[version] = files

    def _prefetch(self, version: str) -> None:
        """Start downloading every file the version's manifest lists (once per version and process)."""
        with self._lock:
            files = self._manifests.pop(version, None)
        if files is None:
            return
        self._prune(keep=version)
        for path in files:
            if isinstance(path, str) and _safe_parts(path) is not None:
                self._fetch(version, path, files.get(path))

    def _fetch(self, version: str, path: str, entry: Any = None) -> Future[bytes]:
        with self._lock:
            future = self._fetches.get((version, path))
            if future is None or (future.done() and future.exception() is not None):
                future = self._pool.submit(self._cached, version, path, entry)
                self._fetches[(version, path)] = future
            return future

    def _cached(self, version: str, path: str, entry: Any) -> bytes:
        """The file from the host's folder, downloaded first by whichever process takes its lock first."""
        target = self._folder.joinpath(version, *path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(f"{target}.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = target.read_bytes() if target.exists() else None
                if data is not None and not _matches(data, entry):
                    data = None  # a damaged or foreign copy: replaced
                if data is None:
                    data = self._kept_copy(version, path, entry) or self._inner.get_bytes(
                        S3Uri(self._bucket, f"{self._versions}{version}/{path}")
                    )
                    _write_atomic(target, data)
                return data
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _kept_copy(self, version: str, path: str, entry: Any) -> bytes | None:
        """The same file of a version kept on disk, when its content is the one the manifest lists (a model that
        did not change between versions is not downloaded again); None when the manifest names no sha256."""
        if not isinstance(entry, dict) or not entry.get("sha256"):
            return None
        with contextlib.suppress(OSError):
            for folder in self._folder.iterdir():
                copy = folder.joinpath(*path.split("/"))
                if folder.name != version and folder.is_dir() and copy.is_file():
                    data = copy.read_bytes()  # written by an atomic rename: whole or absent
                    if _matches(data, entry):
                        return data
        return None

    def _prune(self, keep: str) -> None:
        """Remove the version folders not used lately, keeping ``KEPT_VERSIONS`` (``keep`` among them)."""
        with contextlib.suppress(OSError):
            self._folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            (self._folder / keep).mkdir(exist_ok=True, mode=0o700)
            os.utime(self._folder / keep)
            folders = sorted(
                (p for p in self._folder.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
            )
            for old in folders[KEPT_VERSIONS:]:
                shutil.rmtree(old, ignore_errors=True)
        with self._lock:
            self._fetches = {key: f for key, f in self._fetches.items() if key[0] == keep or not f.done()}


def _matches(data: bytes, entry: Any) -> bool:
    if not isinstance(entry, dict):
        return True  # unknown here: the registry checks it (and a mismatch there is a refusal, then a retry)
    return len(data) == entry.get("size") and hashlib.sha256(data).hexdigest() == entry.get("sha256")


def _write_atomic(target: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
