"""Bad versions: a corrupt pickle, and manifests not signed by the publisher's key when signing is configured.

Each bad version is published properly (so only the defect named is wrong) and offered to a serving app; the app
refuses it, says why on /readyz and /api/v1/models, and keeps answering with the version it had. With the
publisher's private key (ADAPTML_SIGNING_KEY) and the app's public key (ADAPTML_VERIFY_KEY, derived from the
former when only it is set), nothing outside a key holder's manifest is ever unpickled: the bad versions carry a
pickle that would create a file when loaded, and it never appears.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.serving.conftest import Bundle, make_settings

from adaptml.registry import SIGNING_KEY_ENV, Registry, sha256_hex, signing_key_from
from adaptml.serving import create_app
from adaptml.serving.settings import Environment
from adaptml.signing import Keys, env_values
from adaptml.storage import Storage

pytestmark = pytest.mark.faults

RECORD = {"size": 50.5, "rooms": 2, "city": "paris", "listed": "2023-02-01"}
KEY = env_values(Keys.generate())[SIGNING_KEY_ENV]


class Tripwire:
    """Unpickling this creates ``path``: proof that a pickle was (or was not) loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def _serves(client: Any, version: str) -> None:
    answer = client.post("/api/v1/predict", json=RECORD)
    assert answer.status_code == 200 and answer.headers["X-Adaptml-Version"] == version
    assert client.get("/readyz").status_code == 200


def _refused(client: Any, store: Any, version: str, reason: str) -> None:
    outcome = store.refresh()
    assert outcome.action == "refused" and outcome.version == version, outcome
    assert reason in (outcome.reason or ""), outcome.reason
    refusal = client.get("/api/v1/models").get_json()["last_refusal"]
    assert refusal["version"] == version and reason in refusal["reason"]


@pytest.mark.parametrize(
    ("defect", "broken", "reason"),
    [
        ("garbage", lambda data: b"this is not a pickle", "cannot be unpickled"),
        ("truncated", lambda data: data[: len(data) // 2], "cannot be unpickled"),
        ("empty", lambda data: b"", "cannot be unpickled"),
        ("not-a-model", lambda data: pickle.dumps({"weights": [1, 2, 3]}), "failed the smoke prediction"),
    ],
)
def test_a_corrupt_pickle_is_refused_and_the_old_version_keeps_serving(
    registry: Registry, regression: Bundle, make_app: Any, defect: str, broken: Any, reason: str
):
    registry.publish("v1", regression.files, regression.metadata)
    app = make_app(registry)
    client, store = app.test_client(), app.extensions["adaptml"].store
    files = dict(regression.files)
    files["models/ridge.pkl"] = broken(files["models/ridge.pkl"])
    registry.publish("v2", files, regression.metadata)  # the manifest's sha256 matches the corrupt bytes
    _refused(client, store, "v2", reason)
    _serves(client, "v1")


def test_a_pickle_changed_after_publishing_is_refused(registry: Registry, regression: Bundle, make_app: Any):
    registry.publish("v1", regression.files, regression.metadata)
    app = make_app(registry)
    client, store = app.test_client(), app.extensions["adaptml"].store
    registry.publish("v2", regression.files, regression.metadata)
    uri = registry.version_uri("v2").join("models", "ridge.pkl")
    registry.storage.put_bytes(uri, registry.storage.get_bytes(uri)[:-1] + b"!")
    _refused(client, store, "v2", "does not match its sha256")
    _serves(client, "v1")


@pytest.fixture
def signed_app(storage: Storage, bucket: str, regression: Bundle, tmp_path: Path, monkeypatch: Any) -> Any:
    """The app built the production way (the environment read at the entry, create_app making its own registry)
    with ADAPTML_SIGNING_KEY set: the app keeps only its public half."""
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    publisher = Registry(f"s3://{bucket}/registry", "homes", storage=storage, keys=signing_key_from(os.environ))
    publisher.publish("v1", regression.files, regression.metadata)
    environment = Environment.read(os.environ, reload_secret=False)
    settings = make_settings(publisher, tmp_path / "results", dask_threshold=100_000)
    app = create_app(replace(settings, keys=environment.keys.reader()))
    yield app, publisher
    app.extensions["adaptml"].store.close()


def _tripwired(bundle: Bundle, marker: Path) -> dict[str, bytes]:
    return {**bundle.files, "models/ridge.pkl": pickle.dumps(Tripwire(marker))}


@pytest.mark.parametrize("signer", ["unsigned", "another-key"])
def test_a_manifest_not_signed_by_the_publishers_key_is_never_unpickled(
    signed_app: Any, storage: Storage, regression: Bundle, tmp_path: Path, signer: str
):
    app, publisher = signed_app
    client, store = app.test_client(), app.extensions["adaptml"].store
    _serves(client, "v1")
    marker = tmp_path / "unpickled"
    key = None if signer == "unsigned" else Keys.generate()
    intruder = Registry(str(publisher.root), "homes", storage=storage, keys=key)
    intruder.publish("v2", _tripwired(regression, marker), regression.metadata)
    reason = "is not signed" if key is None else "signature does not verify (signed by another key)"
    _refused(client, store, "v2", reason)
    assert not marker.exists(), "the intruder's pickle was loaded"
    _serves(client, "v1")


def test_a_signed_manifest_edited_by_someone_without_the_key_is_refused(
    signed_app: Any, storage: Storage, regression: Bundle, tmp_path: Path
):
    """With write access to S3 but not the key: swap a pickle, fix its sha256 in the manifest and LATEST."""
    app, publisher = signed_app
    client, store = app.test_client(), app.extensions["adaptml"].store
    publisher.publish("v2", regression.files, regression.metadata)
    marker = tmp_path / "unpickled"
    evil = pickle.dumps(Tripwire(marker))
    base = publisher.version_uri("v2")
    storage.put_bytes(base.join("models", "ridge.pkl"), evil)
    manifest = json.loads(storage.get_bytes(base.join("manifest.json")))
    manifest["files"]["models/ridge.pkl"] = {"sha256": sha256_hex(evil), "size": len(evil)}
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    storage.put_bytes(base.join("manifest.json"), manifest_bytes)
    pointer = {"version": "v2", "manifest_sha256": sha256_hex(manifest_bytes)}
    storage.put_text(publisher.latest_uri, json.dumps(pointer))
    _refused(client, store, "v2", "LATEST is not signed")
    assert store.refresh("v2").reason == "v2: manifest signature does not verify"  # were LATEST bypassed
    assert not marker.exists()
    _serves(client, "v1")


def test_a_key_holders_next_version_is_served(signed_app: Any, regression: Bundle):
    app, publisher = signed_app
    client, store = app.test_client(), app.extensions["adaptml"].store
    publisher.publish("v2", regression.files, regression.metadata)
    assert store.refresh().action == "loaded"
    _serves(client, "v2")
    assert os.environ[SIGNING_KEY_ENV] == KEY


def test_without_a_signing_key_the_tripwire_does_fire(registry: Registry, regression: Bundle, make_app: Any, tmp_path):
    """The control for the tests above: the tripwire pickle runs code when loaded, which is what signing prevents."""
    registry.publish("v1", regression.files, regression.metadata)
    app = make_app(registry)
    marker = tmp_path / "unpickled"
    registry.publish("v2", _tripwired(regression, marker), regression.metadata)
    assert app.extensions["adaptml"].store.refresh().action == "refused"
    assert marker.exists()
