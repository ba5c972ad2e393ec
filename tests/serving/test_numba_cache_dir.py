"""Where the compiled loops' cache goes (numba unpickles its index from there): a private per-user directory, never
one another user could have made first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adaptml.serving.compiled import _numba_cache_dir


def test_the_cache_is_a_private_directory_in_the_users_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    chosen = Path(_numba_cache_dir())
    assert chosen == tmp_path / "adaptml" / "numba"
    assert chosen.stat().st_mode & 0o777 == 0o700
    assert chosen.stat().st_uid == os.geteuid()


def test_a_directory_others_may_write_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = tmp_path / "adaptml" / "numba"
    planted.mkdir(parents=True)
    planted.chmod(0o777)  # as if another user had made it first
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    chosen = Path(_numba_cache_dir())
    assert chosen != planted
    assert chosen.stat().st_mode & 0o777 == 0o700
