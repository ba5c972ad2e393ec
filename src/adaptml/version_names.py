"""The registry's version-name pattern, dependency-free so the reload Lambda can check names too.

A version name ends up in S3 keys, file names, HTTP headers (``Content-Disposition``) and log lines, so only names
that are safe in all of them are accepted: no slash, no dot-dot, no whitespace or control characters.
"""

from __future__ import annotations

import re

from adaptml.errors import IntegrityError

__all__ = ["VERSION_PATTERN", "check_version_name"]

VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_version_name(name: object) -> str:
    """``name`` when it matches the registry's version pattern; IntegrityError (quoting it safely) otherwise."""
    if not isinstance(name, str) or not VERSION_PATTERN.fullmatch(name) or ".." in name:
        raise IntegrityError(f"not a valid version name: {str(name)[:80]!r}")
    return name
