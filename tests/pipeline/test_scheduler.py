from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adaptml.errors import AdaptmlError
from adaptml.pipeline import train
from adaptml.registry import Registry
from adaptml.s3server import free_port
from adaptml.storage import Storage

from .conftest import ConfigFactory


@pytest.fixture
def luigid(tmp_path: Path) -> Iterator[str]:
    """A central luigi scheduler on a free local port."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "luigid"), "--address", "127.0.0.1", "--port", str(port)]
    command += ["--state-path", str(tmp_path / "state.pickle"), "--logdir", str(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_run_can_use_a_central_scheduler(storage: Storage, make_config: ConfigFactory, luigid: str) -> None:
    cfg = make_config(models=["ridge", "lightgbm"])
    result = train(cfg, storage=storage, scheduler_url=luigid)
    assert Registry(cfg.registry, cfg.project, storage=storage).versions() == [result.version]
    assert set(result.leaderboard["model"]) == {"dummy", "ridge", "lightgbm", "ensemble"}


def test_an_unreachable_scheduler_is_a_one_line_error(storage: Storage, make_config: ConfigFactory) -> None:
    cfg = make_config(models=["ridge"])
    with pytest.raises(AdaptmlError, match=r"cannot reach the Luigi scheduler at http://127\.0\.0\.1:\d+"):
        train(cfg, storage=storage, scheduler_url=f"http://127.0.0.1:{free_port()}")
    assert Registry(cfg.registry, cfg.project, storage=storage).versions() == []
