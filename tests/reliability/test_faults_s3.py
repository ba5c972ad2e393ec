"""S3 faults: unreachable when the app starts, unreachable during a reload, and cut mid-download.

The app starts without S3, is live but not ready, and becomes ready by itself once a second embedded S3 server comes
up on the port it was given. During a reload, a dead or flaky S3 never costs the served version: requests keep
being answered by it, readiness stays green, and the new version arrives once S3 is back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from tests.serving.conftest import Bundle

from adaptml.registry import Registry
from adaptml.reload.signing import SIGNATURE_HEADER, sign_body
from adaptml.s3server import EmbeddedS3, free_port
from adaptml.storage import Storage, default_client

from .faults import FaultProxy, S3Process, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow]

RECORD = {"size": 50.5, "rooms": 2, "city": "paris", "listed": "2023-02-01"}
SECRET = b"reliability-reload-secret"


@pytest.fixture(autouse=True)
def aws_environment(s3_server: EmbeddedS3) -> None:
    """The embedded servers' credentials and region in the environment (the session server exports them)."""


def storage_at(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Storage:
    """A Storage whose boto3 client (built like the app's own) talks to ``endpoint``."""
    with monkeypatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        return Storage(default_client())


def served_version(client: Any) -> str | None:
    response = client.post("/api/v1/predict", json=RECORD)
    assert response.status_code == 200, response.get_data()[:300]
    return str(response.headers["X-Adaptml-Version"])


def test_the_app_starts_without_s3_and_becomes_ready_when_it_returns(make_app, regression, monkeypatch):
    port = free_port()
    storage = storage_at(f"http://127.0.0.1:{port}", monkeypatch)
    registry = Registry("s3://comes-back/registry", "homes", storage=storage)
    app = make_app(registry)
    client = app.test_client()

    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "unreachable" in ready.get_json()["reason"]
    assert client.post("/api/v1/predict", json=RECORD).status_code == 503
    page = client.get("/")
    assert page.status_code == 503 and "not ready" in page.get_data(as_text=True).lower()

    second = EmbeddedS3("127.0.0.1", port).start()  # the second embedded S3 server, on the chosen port
    try:
        storage.ensure_bucket("comes-back")
        registry.publish("v1", regression.files, regression.metadata)
        wait_until(lambda: client.get("/readyz").status_code == 200, 30, what="readiness after S3 returned")
        assert served_version(client) == "v1"
    finally:
        second.stop()


@pytest.fixture
def own_s3() -> Iterator[S3Process]:
    """An embedded S3 server in its own process, to kill and restart on the same port."""
    s3 = S3Process(free_port()).start()
    yield s3
    s3.kill()


def _publish_both(registry: Registry, bundle: Bundle) -> None:
    registry.storage.ensure_bucket(registry.root.bucket)
    registry.publish("v1", bundle.files, bundle.metadata)
    registry.publish("v2", bundle.files, bundle.metadata)


def _signed_reload(client: Any) -> Any:
    body = b'{"project": "homes", "version": "v2"}'
    headers = {SIGNATURE_HEADER: sign_body(SECRET, body), "Content-Type": "application/json"}
    return client.post("/api/v1/reload", data=body, headers=headers)


def test_s3_dying_during_a_reload_keeps_the_old_version_serving(
    own_s3: S3Process, make_app: Callable[..., Flask], regression: Bundle, monkeypatch: pytest.MonkeyPatch
):
    registry = Registry("s3://dies/registry", "homes", storage=storage_at(own_s3.endpoint, monkeypatch))
    registry.storage.ensure_bucket("dies")
    registry.publish("v1", regression.files, regression.metadata)
    client = make_app(registry, reload_secret=SECRET).test_client()
    assert served_version(client) == "v1"

    registry.publish("v2", regression.files, regression.metadata)
    own_s3.kill()  # v2 is published, and S3 dies before the app fetches it
    assert _signed_reload(client).status_code == 202
    wait_until(lambda: client.get("/readyz").get_json()["last_error"] is not None, 30, what="the failed reload")
    for _ in range(20):
        assert served_version(client) == "v1"
    status = client.get("/readyz")
    assert status.status_code == 200 and "unreachable" in status.get_json()["last_error"]["reason"]
    assert status.get_json()["last_refusal"] is None, "an outage is not a refusal of v2"

    own_s3.start()  # back, empty (its memory died with it): the publisher publishes again
    _publish_both(registry, regression)
    wait_until(lambda: served_version(client) == "v2", 60, what="v2 after S3 returned (the watcher's retry)")
    assert client.get("/readyz").get_json()["last_error"] is None


def test_a_connection_cut_mid_download_keeps_the_old_version_and_is_retried(
    s3_server: EmbeddedS3, storage: Storage, bucket: str, make_app, regression, monkeypatch
):
    proxy = FaultProxy(s3_server.port).start()
    try:
        via_proxy = Registry(f"s3://{bucket}/registry", "homes", storage=storage_at(proxy.endpoint, monkeypatch))
        direct = Registry(f"s3://{bucket}/registry", "homes", storage=storage)
        direct.publish("v1", regression.files, regression.metadata)
        app = make_app(via_proxy)
        client, store = app.test_client(), app.extensions["adaptml"].store
        assert served_version(client) == "v1"

        direct.publish("v2", {**regression.files, "eda/big.bin": b"x" * 2_000_000}, regression.metadata)
        proxy.mode = "cut"  # every connection closes after 20 kB: the 2 MB file never arrives whole
        outcome = store.refresh()
        assert not outcome.ok and outcome.version == "v2"
        assert served_version(client) == "v1"
        assert client.get("/readyz").get_json()["last_refusal"] is None, "a cut download is not a bad version"

        proxy.mode = "pass"
        assert store.refresh().action == "loaded"
        assert served_version(client) == "v2"
    finally:
        proxy.stop()


def test_a_flaky_reload_is_retried_by_the_watcher_without_a_new_publish(
    s3_server: EmbeddedS3, storage: Storage, bucket: str, make_app, regression, monkeypatch
):
    """The watcher treats a cut download as S3 trouble (retried with backoff), not as a refused version."""
    proxy = FaultProxy(s3_server.port).start()
    try:
        via_proxy = Registry(f"s3://{bucket}/registry", "homes", storage=storage_at(proxy.endpoint, monkeypatch))
        direct = Registry(f"s3://{bucket}/registry", "homes", storage=storage)
        direct.publish("v1", regression.files, regression.metadata)
        client = make_app(via_proxy, reload_secret=SECRET, poll_seconds=0).test_client()  # only the retry can help
        direct.publish("v2", {**regression.files, "eda/big.bin": b"x" * 2_000_000}, regression.metadata)
        proxy.mode = "cut"
        assert _signed_reload(client).status_code == 202
        wait_until(lambda: client.get("/readyz").get_json()["last_error"] is not None, 30, what="the cut reload")
        assert served_version(client) == "v1"
        proxy.mode = "pass"  # no new publish, no new notification: the watcher's own retry must get v2
        wait_until(lambda: served_version(client) == "v2", 30, what="the watcher's retry")
    finally:
        proxy.stop()


def test_an_s3_that_hangs_at_start_does_not_hold_up_the_start(
    s3_server: EmbeddedS3, storage: Storage, bucket: str, regression: Bundle, make_app, monkeypatch
):
    """An endpoint that accepts and never answers: boto3 would wait 3 x 60 s; the app starts long before that
    (gunicorn kills workers that take too long to boot), not ready, and loads once S3 answers."""
    Registry(f"s3://{bucket}/registry", "homes", storage=storage).publish("v1", regression.files, regression.metadata)
    proxy = FaultProxy(s3_server.port, mode="hang").start()
    try:
        registry = Registry(f"s3://{bucket}/registry", "homes", storage=storage_at(proxy.endpoint, monkeypatch))
        built: list[Flask] = []
        starting = threading.Thread(target=lambda: built.append(make_app(registry)), daemon=True)
        starting.start()
        starting.join(timeout=60)
        assert built, "the app was still starting after 60 s of a hanging S3"
        client = built[0].test_client()
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 503
        proxy.mode = "pass"
        proxy.release()
        wait_until(lambda: client.get("/readyz").status_code == 200, 60, what="readiness once S3 answers")
        assert served_version(client) == "v1"
    finally:
        proxy.stop()
