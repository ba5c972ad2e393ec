"""Shared fixtures: config -> s3 -> storage, against the embedded S3 server over real HTTP."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
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
