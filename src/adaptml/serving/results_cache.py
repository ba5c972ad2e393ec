"""Downloadable results, kept briefly on disk so any worker process on the host can serve the download."""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

__all__ = ["ResultCache"]

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class ResultCache:
    """CSV files named by unguessable tokens; the oldest are pruned beyond a count or an age."""

    def __init__(self, directory: Path, *, max_entries: int = 64, max_age_seconds: float = 3600.0) -> None:
        self.directory = directory
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds

    def put(self, data: bytes) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(18)
        partial = self.directory / f".{token}.tmp"
        partial.write_bytes(data)
        os.replace(partial, self.directory / f"{token}.csv")  # atomic: a download never sees half a file
        self._prune()
        return token

    def get(self, token: str) -> bytes | None:
        if not TOKEN.match(token):
            return None
        try:
            return (self.directory / f"{token}.csv").read_bytes()
        except FileNotFoundError:
            return None

    def _prune(self) -> None:
        now = time.time()
        entries = sorted(((_mtime(p), p) for p in self.directory.glob("*.csv")), reverse=True)
        for index, (modified, path) in enumerate(entries):
            if index >= self.max_entries or now - modified > self.max_age_seconds:
                path.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # another worker pruned it first
        return 0.0
