"""Shared fixtures: config -> s3 -> storage, against the embedded S3 server over real HTTP; and the check that every
test and module stops the processes it starts (tests/strays.py)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests.strays import session_processes
from werkzeug.serving import make_server

from adaptml.s3server import EmbeddedS3, client_environment
from adaptml.storage import Storage, default_client

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PROCESSES = session_processes()
LEFT_AT_EXIT: dict[int, str] = {}


class _KeepSessionProcesses:
    """What a session-scoped fixture starts (Chromium, a Dask cluster) may outlive any one test and module.

    A plugin, not a conftest hook: session fixtures are set up through the session node's hooks, which a conftest
    below the rootdir does not take part in."""

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
        if fixturedef.scope != "session":
            return (yield)
        before = PROCESSES.snapshot()
        try:
            return (yield)
        finally:
            PROCESSES.keep(PROCESSES.snapshot() - before)


def pytest_configure(config: pytest.Config) -> None:
    # Ctrl-C must reach the servers the tests start: a shell's background job (`make test &`, nohup) starts with
    # SIGINT ignored, every child would inherit that, and the tests that stop a server with Ctrl-C would hang.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    config.pluginmanager.register(_KeepSessionProcesses(), "adaptml-keep-session-processes")


def _fail_on_strays(before: frozenset[tuple[int, int]], where: str) -> None:
    if strays := PROCESSES.stop_strays(before):
        listed = "\n".join(f"  {pid}: {command[:300]}" for pid, command in sorted(strays.items()))
        pytest.fail(f"{where} left {len(strays)} process(es) running (now killed):\n{listed}", pytrace=False)


@pytest.fixture(autouse=True)
def _test_stops_what_it_starts() -> Iterator[None]:
    before = PROCESSES.snapshot()
    yield
    _fail_on_strays(before, "this test")


@pytest.fixture(scope="module", autouse=True)
def _module_stops_what_it_starts() -> Iterator[None]:
    before = PROCESSES.snapshot()
    yield
    _fail_on_strays(before, "this module's fixtures")


def pytest_sessionfinish() -> None:
    """Whatever is still running once every fixture is finalized (a session fixture's leak) is killed too."""
    PROCESSES.kept.clear()
    LEFT_AT_EXIT.update(PROCESSES.stop_strays(frozenset(), grace=5.0))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if LEFT_AT_EXIT:
        terminalreporter.write_sep("-", "processes left running after the session (killed)")
        for pid, command in sorted(LEFT_AT_EXIT.items()):
            terminalreporter.write_line(f"{pid}: {command[:300]}")


@pytest.fixture(scope="session", autouse=True)
def _temp_dir_inside_pytests(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Temporary files (the apps' private runtime and results dirs, Chromium's profile, Dask's scratch space) go
    under pytest's own temp tree, which pytest prunes, instead of piling up in /tmp; child processes too."""
    folder = tmp_path_factory.mktemp("tmp", numbered=False)
    saved, saved_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = str(folder)
    os.environ["TMPDIR"] = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env


@pytest.fixture(scope="session")
def s3_server() -> Iterator[EmbeddedS3]:
    """One embedded S3 server for the whole session; its environment is exported for boto3."""
    server = EmbeddedS3("127.0.0.1", 0).start()
    saved = dict(os.environ)
    os.environ.update(client_environment(server.endpoint))
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield server
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def s3_client(s3_server: EmbeddedS3) -> object:
    return default_client()


@pytest.fixture
def storage(s3_client: object) -> Storage:
    return Storage(s3_client)


@pytest.fixture
def bucket(storage: Storage) -> str:
    """A fresh, empty bucket per test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    storage.ensure_bucket(name)
    return name


@pytest.fixture
def base_url(app: object) -> Iterator[str]:
    """The test's ``app`` on a real HTTP port, served by werkzeug in a thread (for browser tests)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Debian Chromium for the whole session, shared by every browser test.

    Playwright's sync API allows only one live session per process (a second ``sync_playwright()`` finds the
    first one's event loop running), so tests must not start their own: take a fresh context from this browser.
    """
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "Debian chromium not found on PATH (apt-get install chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
