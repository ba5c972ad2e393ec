from __future__ import annotations

import json

import pytest

from adaptml.errors import IntegrityError, NoPublishedVersion, RegistryError
from adaptml.registry import Registry, check_version_name, new_version_id, sha256_hex
from adaptml.signing import Keys

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
    assert {k: latest[k] for k in ("project", "version", "manifest_sha256", "promoted")} == {
        "project": "proj",
        "version": "v1",
        "manifest_sha256": sha256_hex(manifest),
        "promoted": False,
    }
    assert latest["sequence"] == pointer.sequence > 0 and "signature" not in latest  # keys=None: unsigned


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


def test_signed_manifests_and_latest(storage, bucket):
    publisher_keys = Keys.generate()
    signed = Registry(f"s3://{bucket}/r", "p", storage=storage, keys=publisher_keys)
    signed.publish("v1", FILES)
    reader = Registry(f"s3://{bucket}/r", "p", storage=storage, keys=publisher_keys.reader())
    assert reader.load().version == "v1" and reader.latest().sequence > 0
    other_key = Registry(f"s3://{bucket}/r", "p", storage=storage, keys=Keys.generate().reader())
    with pytest.raises(IntegrityError, match="LATEST signature does not verify"):
        other_key.load()
    with pytest.raises(IntegrityError, match="manifest signature does not verify"):
        other_key.load("v1")
    Registry(f"s3://{bucket}/r", "q", storage=storage).publish("v1", FILES)
    with pytest.raises(IntegrityError, match="LATEST is not signed"):
        Registry(f"s3://{bucket}/r", "q", storage=storage, keys=publisher_keys.reader()).load()
    with pytest.raises(IntegrityError, match="manifest is not signed"):
        Registry(f"s3://{bucket}/r", "q", storage=storage, keys=publisher_keys.reader()).load("v1")


def test_without_a_verify_key_nothing_loads_unless_insecure(storage, bucket):
    Registry(f"s3://{bucket}/r", "p", storage=storage).publish("v1", FILES)
    with pytest.raises(IntegrityError, match="no verify key configured"):
        Registry(f"s3://{bucket}/r", "p", storage=storage, keys=Keys()).load()
    insecure = Registry(f"s3://{bucket}/r", "p", storage=storage, keys=Keys(insecure_unsigned=True))
    assert insecure.load().version == "v1"


def test_a_reader_cannot_sign_and_promote_needs_the_private_key(storage, bucket):
    keys = Keys.generate()
    Registry(f"s3://{bucket}/r", "p", storage=storage, keys=keys).publish("v1", FILES)
    reader = Registry(f"s3://{bucket}/r", "p", storage=storage, keys=keys.reader())
    assert reader.keys is not None and reader.keys.private is None
    with pytest.raises(RegistryError, match="private key"):
        reader.promote("v1")


def test_promote_is_signed_ordered_and_recorded(storage, bucket):
    keys = Keys.generate()
    publisher = Registry(f"s3://{bucket}/r", "p", storage=storage, keys=keys)
    first = publisher.publish("v1", FILES)
    second = publisher.publish("v2", FILES)
    promoted = publisher.promote("v1")
    assert first.sequence < second.sequence < promoted.sequence and promoted.promoted
    reader = Registry(f"s3://{bucket}/r", "p", storage=storage, keys=keys.reader())
    assert reader.latest().version == "v1" and reader.latest().promoted
    [record] = storage.list(f"{publisher.project_uri.join('promotions')}/")
    entry = json.loads(storage.get_text(record))
    assert (entry["version"], entry["previous"], entry["sequence"]) == ("v1", "v2", promoted.sequence)
    assert keys.problem("promotion", entry) is None


@pytest.mark.parametrize("name", ["../other/versions/v1", "v1\r\nX-Injected: 1", "a/b", "..", "", "v" * 200])
def test_bad_version_names_are_refused(registry, name):
    with pytest.raises(IntegrityError, match="not a valid version name"):
        registry.publish(name, FILES)
    assert check_version_name("20260101T000000Z-abcdef12") == "20260101T000000Z-abcdef12"


def test_manifest_file_paths_stay_inside_the_version(registry):
    with pytest.raises(IntegrityError, match="not a valid file path"):
        registry.publish("v1", {"../../LATEST": b"x"})


def test_version_ids_sort_by_time():
    from datetime import UTC, datetime

    a = new_version_id("abcdef1234", datetime(2026, 1, 1, tzinfo=UTC))
    b = new_version_id("00000000", datetime(2026, 1, 2, tzinfo=UTC))
    assert a == "20260101T000000Z-abcdef12"
    assert sorted([b, a]) == [a, b]
