"""What a model refresh reports: its outcome, the refusal it recorded, and whether an error was S3's (transient).

Refusal reasons are public (/readyz): S3 and HTTP addresses are scrubbed from them; the log keeps them whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from adaptml.errors import AdaptmlError, ObjectNotFound, StorageError

__all__ = ["Refusal", "RefreshOutcome", "is_transient", "named_by"]

_ADDRESS = re.compile(r"\b(?:s3|https?)://[^\s)'\"]+")


@dataclass(frozen=True)
class Refusal:
    """A refresh that did not swap: which version (None if it was never identified), why, and when."""

    version: str | None
    reason: str
    at: str

    @classmethod
    def now(cls, version: str | None, detail: str) -> Refusal:
        """The refusal of ``version`` for ``detail``, with its addresses scrubbed, dated now."""
        return cls(version, _ADDRESS.sub("<redacted>", detail), datetime.now(UTC).isoformat(timespec="seconds"))


@dataclass(frozen=True)
class RefreshOutcome:
    """What a refresh did: loaded a new version, found it already served, or refused it (old set kept)."""

    action: Literal["loaded", "unchanged", "refused"]
    version: str | None
    reason: str | None = None
    transient: bool = False  # S3 could not be read (down, cut mid-download): retry, the version is not at fault

    @property
    def ok(self) -> bool:
        return self.action != "refused"


def is_transient(error: BaseException) -> bool:
    """S3 trouble (unreachable, throttled, a connection cut mid-download), as opposed to a bad version.

    A missing object is the version's fault (its manifest names a file that is not there); the rest of the
    storage errors and any network-level failure from botocore or urllib3 pass with time.
    """
    from botocore.exceptions import BotoCoreError
    from urllib3.exceptions import HTTPError

    if isinstance(error, StorageError):
        return not isinstance(error, ObjectNotFound)
    return isinstance(error, BotoCoreError | HTTPError | OSError)


def named_by(error: Exception) -> str | None:
    """The (well-formed) version an untrusted LATEST names, so a refusal can say which one it refused."""
    details = error.details if isinstance(error, AdaptmlError) else None
    return str(details["version"]) if isinstance(details, dict) and details.get("version") else None
