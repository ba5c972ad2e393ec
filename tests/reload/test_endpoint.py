"""The reload endpoint: 401/403 reload nothing; 202 reloads off the request path; a tampered version is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from adaptml.config import ServingConfig
from adaptml.registry import Registry
from adaptml.reload.hooks import EXTENSION_KEY
from adaptml.reload.signing import SIGNATURE_HEADER, sign_body
from adaptml.reload.watch import ReloadWorker
from adaptml.serving.app import create_app
from adaptml.serving.settings import ServingSettings

from . import versions
from .conftest import SECRET

URL = "/api/v1/reload"


@pytest.fixture
def registry(storage, bucket) -> Registry:
    registry = Registry(f"s3://{bucket}/registry", "hotel-rates", storage=storage)
    versions.publish(registry, "v1", 1)
    return registry


@pytest.fixture
def make_app(registry, tmp_path) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def build(secret: bytes | None = SECRET) -> Flask:
        settings = ServingSettings(
            str(registry.root),
            registry.project,
            ServingConfig(poll_seconds=0),
            runtime_dir=str(tmp_path),
            reload_secret=secret,
        )
        # no Dask: these single-record requests never reach it, and a DaskEngine(None) per app started a local
        # cluster (a dask worker process tree) that nothing closed until pytest exited, or never if it was killed
        app = create_app(settings, registry=registry)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions[EXTENSION_KEY].stop()


def _notice(version: str) -> bytes:
    return json.dumps({"project": "hotel-rates", "version": version, "key": "registry/hotel-rates/LATEST"}).encode()


def _predict(client: Any) -> dict[str, Any]:
    response = client.post("/api/v1/predict", json=versions.RECORD)
    assert response.status_code == 200
    body = response.get_json()
    return {"version": body["version"], "predictions": body["rows"][0]["predictions"]}


def _wait_for_refresh(worker: ReloadWorker, before: float | None) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = worker.status()
        if status.get("refreshed_at") and status.get("refreshed_at") != before:
            return status
        time.sleep(0.05)
    raise AssertionError("the watcher did not refresh")


def test_without_a_configured_secret_the_endpoint_refuses(make_app, registry):
    client = make_app(secret=None).test_client()
    body = _notice("v2")
    response = client.post(URL, data=body, headers={SIGNATURE_HEADER: sign_body(SECRET, body)})
    assert response.status_code == 403
    assert "ADAPTML_RELOAD_SECRET" in response.get_json()["message"]


def test_missing_or_bad_signatures_reload_nothing(make_app, registry):
    app = make_app()
    client = app.test_client()
    versions.publish(registry, "v2", 2)
    body = _notice("v2")

    assert client.post(URL, data=body).status_code == 401
    assert client.post(URL, data=body, headers={SIGNATURE_HEADER: sign_body(b"wrong", body)}).status_code == 403
    assert client.post(URL, data=body, headers={SIGNATURE_HEADER: "sha1=abc"}).status_code == 403
    tampered = body.replace(b"v2", b"v9")
    assert client.post(URL, data=tampered, headers={SIGNATURE_HEADER: sign_body(SECRET, body)}).status_code == 403

    time.sleep(0.5)  # give a (wrongly) woken watcher time to act: it must not
    assert app.extensions[EXTENSION_KEY].status().get("refreshed_at") is None
    assert _predict(client) == {"version": "v1", "predictions": versions.expected(1)}


def test_a_signed_notification_switches_off_the_request_path(make_app, registry):
    app = make_app()
    client = app.test_client()
    worker = app.extensions[EXTENSION_KEY]
    versions.publish(registry, "v2", 2)
    body = _notice("v2")

    response = client.post(URL, data=body, headers={SIGNATURE_HEADER: sign_body(SECRET, body)})

    assert response.status_code == 202
    assert response.get_json()["notified_version"] == "v2"
    status = _wait_for_refresh(worker, None)
    assert status["version"] == "v2" and status["reason"] == "notified"
    assert _predict(client) == {"version": "v2", "predictions": versions.expected(2)}
    processes = client.get(URL).get_json()["processes"]
    assert [p["version"] for p in processes] == ["v2"]


def test_a_tampered_version_is_refused_and_readyz_explains(make_app, registry):
    app = make_app()
    client = app.test_client()
    worker = app.extensions[EXTENSION_KEY]
    versions.publish(registry, "v2", 2)
    versions.tamper(registry, "v2")
    body = _notice("v2")

    assert client.post(URL, data=body, headers={SIGNATURE_HEADER: sign_body(SECRET, body)}).status_code == 202
    status = _wait_for_refresh(worker, None)

    assert status["version"] == "v1" and "sha256" in status["error"]
    assert _predict(client) == {"version": "v1", "predictions": versions.expected(1)}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    refusal = ready.get_json()["last_refusal"]
    assert refusal["version"] == "v2" and "models/a.pkl does not match its sha256" in refusal["reason"]
    assert client.get("/api/v1/models").get_json()["last_refusal"]["version"] == "v2"


def test_refusals_answer_in_the_apis_json_error_shape(make_app, registry):
    client = make_app().test_client()
    body = _notice("v2")
    cases = [
        ({}, body, 401, "UNAUTHENTICATED"),
        ({SIGNATURE_HEADER: sign_body(b"wrong", body)}, body, 403, "PERMISSION_DENIED"),
        ({SIGNATURE_HEADER: sign_body(SECRET, b"[1]")}, b"[1]", 400, "BAD_REQUEST"),
    ]
    for headers, data, status, code in cases:
        response = client.post(URL, data=data, headers={**headers, "Accept": "text/html"})
        assert response.status_code == status and response.mimetype == "application/json"
        assert response.get_json() == {"error_code": code, "message": response.get_json()["message"], "status": status}


def test_a_captured_notification_cannot_be_replayed(make_app, registry):
    """The signature covers a timestamp: an old capture never verifies, a fresh one is accepted only once."""
    client = make_app().test_client()
    versions.publish(registry, "v2", 2)
    body = _notice("v2")
    stale = sign_body(SECRET, body, now=time.time() - 3600)
    assert client.post(URL, data=body, headers={SIGNATURE_HEADER: stale}).status_code == 403
    future = sign_body(SECRET, body, now=time.time() + 3600)
    assert client.post(URL, data=body, headers={SIGNATURE_HEADER: future}).status_code == 403

    fresh = sign_body(SECRET, body)
    assert client.post(URL, data=body, headers={SIGNATURE_HEADER: fresh}).status_code == 202
    replayed = client.post(URL, data=body, headers={SIGNATURE_HEADER: fresh})
    assert replayed.status_code == 403 and "replayed" in replayed.get_json()["message"]
