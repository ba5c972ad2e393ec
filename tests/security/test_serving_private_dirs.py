"""No predictable shared /tmp paths: the app's download and reload directories are private to its user.

Before, the defaults were ``/tmp/adaptml-results-<project>`` and ``/tmp/adaptml-<project>-<hash>``: another user of
the host could create them first (world-writable, or a symlink) and read every download or forge reload signals.
Now the directory named is checked, else one under ``XDG_RUNTIME_DIR``, else a fresh ``mkdtemp``, all 0700.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.reliability.served import published
from tests.serving.conftest import make_settings

from adaptml.errors import ConfigError
from adaptml.registry import Registry
from adaptml.reload.hooks import EXTENSION_KEY
from adaptml.serving import create_app
from adaptml.serving.settings import Environment, ServingSettings
from adaptml.serving.state import app_state


@pytest.fixture
def registry(s3_client: Any, bucket: str) -> Registry:
    return published(s3_client, bucket)


def _dirs(registry: Registry, settings: ServingSettings) -> tuple[Path, Path]:
    app = create_app(settings, registry=registry)
    try:
        return app_state(app).results.directory, app.extensions[EXTENSION_KEY].runtime_dir
    finally:
        app_state(app).store.close()


def _private(path: Path) -> bool:
    info = path.lstat()
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) == 0o700


def test_unset_directories_are_fresh_private_temp_dirs_not_predictable_paths(registry: Registry, tmp_path: Path):
    planted = Path(tempfile.gettempdir()) / f"adaptml-results-{registry.project}"  # the old default
    settings = replace(make_settings(registry, tmp_path), results_dir=None, runtime_dir=None)
    first, second = _dirs(registry, settings), _dirs(registry, settings)
    for directory in (*first, *second):
        assert _private(directory), oct(directory.lstat().st_mode)
        assert directory != planted and directory.name.startswith(f"adaptml-{registry.project}-")
    assert first[0] != second[0], "each process gets its own unguessable directory"


def test_xdg_runtime_dir_gives_one_private_directory_per_user_project_and_registry(registry: Registry, tmp_path):
    base = tmp_path / "xdg"
    base.mkdir(mode=0o700)
    environment = Environment.read({"XDG_RUNTIME_DIR": str(base)}, reload_secret=False)
    settings = ServingSettings.from_config(
        replace(make_settings(registry, tmp_path), results_dir=None, user_runtime_dir=environment.user_runtime_dir)
    )
    results, runtime = _dirs(registry, settings)
    assert results.parent == runtime.parent and results.parent.parent == base
    assert _private(results) and _private(runtime)
    assert _dirs(registry, settings) == (results, runtime), "every worker of the user shares them"


@pytest.mark.parametrize("plant", ["world_writable", "symlink"])
def test_a_planted_directory_is_refused(registry: Registry, tmp_path: Path, plant: str):
    target = tmp_path / "planted"
    if plant == "world_writable":
        target.mkdir()
        target.chmod(0o777)
    else:
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        target.symlink_to(tmp_path / "elsewhere")
    settings = replace(make_settings(registry, tmp_path), results_dir=str(target))
    with pytest.raises(ConfigError, match="not a private directory"):
        create_app(settings, registry=registry)
