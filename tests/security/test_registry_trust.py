"""Attacks on the model registry by someone who can write the bucket but holds no signing key.

Each test plants a payload pickle (it writes a marker file when unpickled) the way the security review did,
against the embedded S3 server over HTTP and an app built the production way (public key only), and shows the
version refused, the marker never written and, where one was served, the old version still answering.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.security.conftest import copy_prefix, payload_files, refused, serves

from adaptml.registry import Registry, sha256_hex
from adaptml.serving.settings import Environment
from adaptml.signing import Keys


def _start(app: Any, version: str) -> None:
    assert app.extensions["adaptml"].store.refresh().ok
    serves(app, version)


def test_an_app_without_a_verify_key_refuses_an_unsigned_version(intruder, make_app, bundle, tmp_path):
    marker = tmp_path / "pwned"
    intruder.publish("v1", payload_files(bundle, marker), bundle.metadata)
    app = make_app(intruder, Environment.read({}).keys)  # nothing configured: no key, no --insecure-unsigned
    refused(app, "no verify key configured")
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and "ADAPTML_VERIFY_KEY" in ready.get_json()["reason"]
    assert not marker.exists()


def test_an_app_with_a_verify_key_refuses_an_unsigned_version(publisher, intruder, keys, make_app, bundle, tmp_path):
    publisher.publish("v1", bundle.files, bundle.metadata)
    app = make_app(publisher, keys.reader())
    _start(app, "v1")
    marker = tmp_path / "pwned"
    intruder.publish("v2", payload_files(bundle, marker), bundle.metadata)
    refused(app, "LATEST is not signed")
    refused(app, "manifest is not signed", version="v2")  # and were LATEST bypassed, the manifest is not either
    assert not marker.exists()
    serves(app, "v1")


def test_a_signed_older_version_reactivated_by_rewriting_latest_is_refused(
    publisher, intruder, keys, make_app, bundle, tmp_path, storage
):
    marker = tmp_path / "pwned"
    publisher.publish("v1", payload_files(bundle, marker), bundle.metadata)  # an old version, withdrawn since
    old_latest = storage.get_bytes(publisher.latest_uri)
    publisher.publish("v2", bundle.files, bundle.metadata)
    app = make_app(publisher, keys.reader())
    _start(app, "v2")
    storage.put_bytes(publisher.latest_uri, old_latest)  # the old pointer, signature and all
    refused(app, "a replayed pointer")
    manifest = storage.get_bytes(publisher.version_uri("v1").join("manifest.json"))
    storage.put_text(publisher.latest_uri, json.dumps({"version": "v1", "manifest_sha256": sha256_hex(manifest)}))
    refused(app, "LATEST is not signed")
    assert not marker.exists()
    serves(app, "v2")


def test_going_back_takes_a_promotion(publisher, keys, make_app, bundle, storage):
    publisher.publish("v1", bundle.files, bundle.metadata)
    first = storage.get_bytes(publisher.version_uri("v1").join("manifest.json"))
    _after(publisher.manifest("v1")["published_at"])  # publish times have a resolution of one second
    publisher.publish("v2", bundle.files, bundle.metadata)
    app = make_app(publisher, keys.reader())
    _start(app, "v2")
    # A signed pointer back to v1 that is not a promotion (a stale second publisher, say) is refused...
    publisher._point("v1", sha256_hex(first), promoted=False)
    refused(app, "only `adaptml promote` makes an older version live again")
    # ...`adaptml promote` is the way back: signed, recorded, and followed.
    publisher.promote("v1")
    assert app.extensions["adaptml"].store.refresh().action == "loaded"
    serves(app, "v1")
    [record] = storage.list(f"{publisher.project_uri.join('promotions')}/")
    assert json.loads(storage.get_text(record))["version"] == "v1"


def _after(stamp: str) -> None:
    """Wait until the clock reads a later publish time than ``stamp`` (ordering, not duration)."""
    while datetime.now(UTC).isoformat(timespec="seconds") <= stamp:
        time.sleep(0.05)


def test_a_signed_version_copied_under_a_new_name_is_refused(
    publisher, keys, make_app, bundle, tmp_path, storage, intruder
):
    marker = tmp_path / "pwned"
    publisher.publish("v1", bundle.files, bundle.metadata)
    app = make_app(publisher, keys.reader())
    _start(app, "v1")
    publisher.publish("rejected-candidate", payload_files(bundle, marker), bundle.metadata)
    publisher.promote("v1")  # the candidate was withdrawn; v1 is live again
    assert app.extensions["adaptml"].store.refresh().ok
    copy_prefix(storage, str(publisher.version_uri("rejected-candidate")), str(publisher.version_uri("v9")))
    refused(app, "published under another version name", version="v9")
    manifest = storage.get_bytes(publisher.version_uri("v9").join("manifest.json"))
    storage.put_text(publisher.latest_uri, json.dumps({"version": "v9", "manifest_sha256": sha256_hex(manifest)}))
    refused(app, "LATEST is not signed")
    assert not marker.exists()
    serves(app, "v1")


def test_a_signed_version_copied_into_another_project_is_refused(publisher, keys, make_app, bundle, tmp_path, storage):
    marker = tmp_path / "pwned"
    staging = Registry(str(publisher.root), "staging", storage=storage, keys=keys)  # same organisation key
    staging.publish("v5", payload_files(bundle, marker), bundle.metadata)
    publisher.publish("v1", bundle.files, bundle.metadata)
    app = make_app(publisher, keys.reader())
    _start(app, "v1")
    copy_prefix(storage, str(staging.version_uri("v5")), str(publisher.version_uri("v5")))
    storage.put_bytes(publisher.latest_uri, storage.get_bytes(staging.latest_uri))
    refused(app, "LATEST belongs to another project")
    refused(app, "belongs to another project than homes", version="v5")
    assert not marker.exists()
    serves(app, "v1")


@pytest.mark.parametrize(
    "name",
    ["../../staging/versions/v5", "v1\r\nX-Injected: yes", "v1\nWARNING forged log line", "v1 ; rm -rf /"],
)
def test_latest_with_a_crafted_version_name_is_refused(intruder, make_app, bundle, tmp_path, storage, name, caplog):
    """Even an app that accepts unsigned versions checks the name before using it in a key, a header or a log."""
    marker = tmp_path / "pwned"
    intruder.publish("v1", bundle.files, bundle.metadata)
    app = make_app(intruder, Keys(insecure_unsigned=True))
    _start(app, "v1")
    files = payload_files(bundle, marker)
    crafted = f"{intruder.project_uri.join('versions')}/{name}"
    for path, data in files.items() if name.isprintable() else ():  # S3 stores no control characters in keys
        storage.put_bytes(f"{crafted}/{path}", data)
    storage.put_text(intruder.latest_uri, json.dumps({"version": name, "manifest_sha256": "0" * 64}))
    with caplog.at_level(logging.WARNING):
        reason = refused(app, "not a valid version name")
    assert "\r" not in reason and "\n" not in reason
    assert all("\r" not in r.getMessage() and "\n" not in r.getMessage() for r in caplog.records)
    assert not marker.exists()
    serves(app, "v1")


def test_refusal_reasons_do_not_name_the_bucket_or_the_endpoint(publisher, keys, make_app, bundle, storage):
    publisher.publish("v1", bundle.files, bundle.metadata)
    app = make_app(publisher, keys.reader())
    _start(app, "v1")
    storage.delete(publisher.version_uri("v1").join("manifest.json"))
    publisher._point("v1-gone", "0" * 64, promoted=False)  # a signed pointer to a version that is not there
    reason = refused(app, "not found")
    body = json.dumps(app.test_client().get("/api/v1/models").get_json())
    for leak in (publisher.root.bucket, "s3://", "http://", storage.endpoint):
        assert leak not in reason and leak not in body
