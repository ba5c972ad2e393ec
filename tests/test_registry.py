from __future__ import annotations

import json

import pytest

from adaptml.errors import IntegrityError, NoPublishedVersion, RegistryError
from adaptml.registry import Registry, new_version_id, sha256_hex

FILES = {"metrics.csv": b"rank,model\n1,a\n", "models/a.pkl": b"\x80\x05pickle", "schema.json": b"{}"}


@pytest.fixture
def registry(storage, bucket) -> Registry:
    return Registry(f"s3://{bucket}/registry", "proj", storage=storage)


def test_nothing_published(registry):
    with pytest.raises(NoPublishedVersion, match="no published version of proj"):
        registry.latest()
    assert registry.versions() == []


def test_publish_then_load_verifies(registry, storage):
    pointer = registry.publish("v1", FILES, {"leaderboard": [{"model": "a"}]})
    assert registry.latest().version == "v1"
    assert pointer.etag == registry.latest_etag()
    loaded = registry.load()
    assert loaded.files == FILES
    assert loaded.manifest["files"]["models/a.pkl"]["sha256"] == sha256_hex(FILES["models/a.pkl"])
    assert loaded.manifest["leaderboard"] == [{"model": "a"}]
    latest = json.loads(storage.get_text(registry.latest_uri))
    manifest = storage.get_bytes(registry.version_uri("v1").join("manifest.json"))
    assert latest == {"version": "v1", "manifest_sha256": sha256_hex(manifest)}


def test_versions_are_immutable(registry):
    registry.publish("v1", FILES)
    with pytest.raises(RegistryError, match="already exists"):
        registry.publish("v1", FILES)


def test_tampered_file_is_refused(registry, storage):
    registry.publish("v1", FILES)
    storage.put_bytes(registry.version_uri("v1").join("models/a.pkl"), b"evil")
    with pytest.raises(IntegrityError, match="models/a.pkl does not match its sha256"):
        registry.load()


def test_partial_publish_is_invisible(registry, storage):
    registry.publish("v1", FILES)
    # an interrupted publish of v2: files uploaded, no manifest, no LATEST
    storage.put_bytes(registry.version_uri("v2").join("models/a.pkl"), b"half")
    assert registry.versions() == ["v1"]
    assert registry.load().version == "v1"


def test_signed_manifests(storage, bucket):
    signed = Registry(f"s3://{bucket}/r", "p", storage=storage, signing_key=b"k1")
    signed.publish("v1", FILES)
    assert signed.load().version == "v1"
    other_key = Registry(f"s3://{bucket}/r", "p", storage=storage, signing_key=b"k2")
    with pytest.raises(IntegrityError, match="signature does not verify"):
        other_key.load()
    Registry(f"s3://{bucket}/r", "q", storage=storage).publish("v1", FILES)
    with pytest.raises(IntegrityError, match="not signed"):
        Registry(f"s3://{bucket}/r", "q", storage=storage, signing_key=b"k1").load()


def test_version_ids_sort_by_time():
    from datetime import UTC, datetime

    a = new_version_id("abcdef1234", datetime(2026, 1, 1, tzinfo=UTC))
    b = new_version_id("00000000", datetime(2026, 1, 2, tzinfo=UTC))
    assert a == "20260101T000000Z-abcdef12"
    assert sorted([b, a]) == [a, b]
