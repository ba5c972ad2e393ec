"""Version files are downloaded once per host and shared by its serving processes (reload/host_cache.py).

Two ``HostCachedStorage`` instances on one folder stand for two gunicorn workers: the first downloads every file
of a version (in parallel), the second reads them from the folder; both get a version the registry verified. A
damaged copy on disk is replaced by a fresh download, and a file tampered with in S3 is still refused.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from adaptml.errors import IntegrityError
from adaptml.registry import Registry
from adaptml.reload.host_cache import HostCachedStorage
from adaptml.storage import S3Uri, Storage

FILES = {f"models/m{index}.pkl": bytes([index]) * (1000 + index) for index in range(6)}
FILES.update({"schema.json": b"{}", "eda/report.html": b"<html></html>"})


class CountingStorage(Storage):
    """The real storage, counting the objects it downloads."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.reads: list[str] = []
        self._lock = threading.Lock()

    def get_bytes(self, uri: str | S3Uri) -> bytes:
        with self._lock:
            self.reads.append(str(uri))
        return super().get_bytes(uri)


@pytest.fixture
def published(s3_client: Any, bucket: str) -> Registry:
    registry = Registry(f"s3://{bucket}/registry", "homes", storage=Storage(s3_client))
    registry.publish("v1", FILES, {"task": "regression"})
    return registry


def _worker(registry: Registry, s3_client: Any, folder: Path) -> tuple[Registry, CountingStorage]:
    counting = CountingStorage(s3_client)
    cached = HostCachedStorage(counting, registry.project_uri.join("versions"), folder)
    return Registry(str(registry.root), registry.project, storage=cached), counting


def test_the_second_worker_reads_the_files_the_first_downloaded(published, s3_client, tmp_path):
    first, first_reads = _worker(published, s3_client, tmp_path)
    second, second_reads = _worker(published, s3_client, tmp_path)
    assert first.load("v1").files == FILES
    assert second.load("v1").files == FILES
    assert len(first_reads.reads) == len(FILES) + 1  # every file and the manifest
    assert [uri.rsplit("/", 1)[1] for uri in second_reads.reads] == ["manifest.json"]


def test_a_damaged_copy_is_downloaded_again(published, s3_client, tmp_path):
    first, _ = _worker(published, s3_client, tmp_path)
    first.load("v1")
    (tmp_path / "v1" / "models" / "m3.pkl").write_bytes(b"garbage")
    second, reads = _worker(published, s3_client, tmp_path)
    assert second.load("v1").files == FILES
    assert any(uri.endswith("models/m3.pkl") for uri in reads.reads)
    assert (tmp_path / "v1" / "models" / "m3.pkl").read_bytes() == FILES["models/m3.pkl"]


def test_a_file_changed_in_s3_is_still_refused(published, s3_client, tmp_path):
    published.storage.put_bytes(published.version_uri("v1").join("models/m2.pkl"), b"evil")
    worker, _ = _worker(published, s3_client, tmp_path)
    with pytest.raises(IntegrityError, match="m2.pkl"):
        worker.load("v1")


def test_other_objects_are_read_directly(published, s3_client, tmp_path):
    worker, reads = _worker(published, s3_client, tmp_path)
    worker.latest()
    assert [uri.rsplit("/", 1)[1] for uri in reads.reads] == ["LATEST"]
    assert not any(tmp_path.iterdir())


def test_files_unchanged_since_a_kept_version_are_not_downloaded_again(published, s3_client, tmp_path):
    worker, reads = _worker(published, s3_client, tmp_path)
    worker.load("v1")
    changed = {**FILES, "models/m4.pkl": b"a retrained model"}
    published.publish("v2", changed, {"task": "regression"})
    reads.reads.clear()
    assert worker.load("v2").files == changed
    downloaded = sorted(uri.split("/versions/v2/", 1)[1] for uri in reads.reads)
    assert downloaded == ["manifest.json", "models/m4.pkl"]
    assert (tmp_path / "v2" / "models" / "m0.pkl").read_bytes() == FILES["models/m0.pkl"]


def test_a_kept_copy_that_does_not_match_the_manifest_is_not_taken(published, s3_client, tmp_path):
    worker, reads = _worker(published, s3_client, tmp_path)
    worker.load("v1")
    (tmp_path / "v1" / "models" / "m1.pkl").write_bytes(b"garbage")  # damaged on disk after v1 was loaded
    published.publish("v2", FILES, {"task": "regression"})
    reads.reads.clear()
    assert worker.load("v2").files == FILES
    assert any(uri.endswith("versions/v2/models/m1.pkl") for uri in reads.reads)
