"""The per-process watcher with a real ModelStore on the embedded S3 server: signal, poll, refusal, outage."""

from __future__ import annotations

import gc
import time

import boto3
import pytest
from botocore.config import Config as BotoConfig

from adaptml.registry import Registry
from adaptml.reload.hooks import store_hooks
from adaptml.reload.runtime import SiblingSignal, read_statuses
from adaptml.reload.watch import ReloadWorker
from adaptml.s3server import EmbeddedS3
from adaptml.serving.store import ModelStore
from adaptml.storage import Storage

from . import versions


@pytest.fixture
def registry(storage, bucket) -> Registry:
    return Registry(f"s3://{bucket}/registry", "hotel-rates", storage=storage)


def _store(registry: Registry) -> ModelStore:
    store = ModelStore(registry)
    assert store.refresh().ok
    return store


def _worker(store: ModelStore, runtime_dir, poll_seconds: float = 0.0) -> ReloadWorker:
    return ReloadWorker(store_hooks(store), runtime_dir, poll_seconds=poll_seconds)


def test_an_announcement_reaches_every_sibling(registry, tmp_path):
    versions.publish(registry, "v1", 1)
    stores = [_store(registry), _store(registry)]
    workers = [_worker(store, tmp_path) for store in stores]
    versions.publish(registry, "v2", 2)

    assert [w.tick() for w in workers] == [[], []]  # nothing announced yet, polling is off
    SiblingSignal(tmp_path).announce({"version": "v2"})

    assert [w.tick() for w in workers] == [["notified"], ["notified"]]
    assert [s.status()["version"] for s in stores] == ["v2", "v2"]
    assert [w.tick() for w in workers] == [[], []]  # the same announcement is acted on once


def test_polling_the_etag_converges_without_a_notification(registry, tmp_path):
    versions.publish(registry, "v1", 1)
    store = _store(registry)
    worker = _worker(store, tmp_path, poll_seconds=5)
    start = time.monotonic()

    assert worker.tick(start) == []  # not due yet
    assert worker.tick(start + 5) == []  # first look: already serving what LATEST names
    versions.publish(registry, "v2", 2)
    assert worker.tick(start + 7) == []  # not due until 10 s
    assert worker.tick(start + 10) == ["poll"]
    assert store.status()["version"] == "v2"
    assert worker.tick(start + 15) == []  # same ETag: nothing to do


def test_a_poll_that_finds_a_new_latest_tells_the_siblings(registry, tmp_path):
    versions.publish(registry, "v1", 1)
    stores = [_store(registry), _store(registry)]
    polling, sibling = _worker(stores[0], tmp_path, poll_seconds=5), _worker(stores[1], tmp_path)
    start = time.monotonic()
    assert polling.tick(start + 5) == []  # first look: already serving what LATEST names
    assert sibling.tick() == []
    versions.publish(registry, "v2", 2)
    assert polling.tick(start + 10) == ["poll"]
    assert sibling.tick() == ["notified"]  # no poll of its own: told through the runtime directory
    assert [s.status()["version"] for s in stores] == ["v2", "v2"]
    assert polling.tick(start + 11) == []  # its own announcement does not trigger it again


def test_a_tampered_version_is_refused_once_and_the_old_one_keeps_serving(registry, tmp_path):
    versions.publish(registry, "v1", 1)
    store = _store(registry)
    worker = _worker(store, tmp_path, poll_seconds=5)
    start = time.monotonic()
    worker.tick(start + 5)
    versions.publish(registry, "v2", 2)
    versions.tamper(registry, "v2")

    assert worker.tick(start + 10) == ["poll"]
    status = store.status()
    assert status["version"] == "v1" and status["ready"] is True
    assert status["last_refusal"]["version"] == "v2"
    assert "models/a.pkl does not match its sha256" in status["last_refusal"]["reason"]
    assert "sha256" in worker.status()["error"]
    assert worker.tick(start + 20) == []  # the same refused version is not downloaded again and again


def test_an_s3_outage_backs_off_keeps_serving_and_recovers(registry, bucket, tmp_path, caplog):
    own = EmbeddedS3("127.0.0.1", 0).start()  # moto keeps its data per process, so the bucket is visible here too
    client = boto3.session.Session().client(
        "s3", endpoint_url=own.endpoint, config=BotoConfig(connect_timeout=1, retries={"max_attempts": 1})
    )
    outage_registry = Registry(f"s3://{bucket}/registry", "hotel-rates", storage=Storage(client))
    versions.publish(registry, "v1", 1)
    store = _store(outage_registry)
    worker = _worker(store, tmp_path, poll_seconds=2)
    start = time.monotonic()
    worker.tick(start + 2)
    own.stop()
    versions.publish(registry, "v2", 2)
    try:
        assert worker.tick(start + 4) == []  # poll fails: logged, backed off to 4 s
        assert "reload poll failed" in caplog.text
        assert worker.tick(start + 6) == []  # still backing off
        SiblingSignal(tmp_path).announce({"version": "v2"})
        assert worker.tick(start + 7) == ["notified"]  # S3 is down: refused, retried later
        assert store.status()["version"] == "v1"
        assert worker.tick(start + 8) == []
    finally:
        EmbeddedS3("127.0.0.1", own.port).start()
    assert worker.tick(start + 60) == ["retry", "poll"]
    assert store.status()["version"] == "v2"


def test_the_thread_switches_writes_its_status_and_ends_with_its_store(registry, tmp_path):
    versions.publish(registry, "v1", 1)
    store = _store(registry)
    worker = _worker(store, tmp_path)
    worker.ensure_started()
    try:
        versions.publish(registry, "v2", 2)
        worker.signal.announce({"version": "v2"})
        deadline = time.monotonic() + 20
        while store.status()["version"] != "v2" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.status()["version"] == "v2"
        while not read_statuses(tmp_path)[0].get("switched_at") and time.monotonic() < deadline:
            time.sleep(0.05)
        (status,) = read_statuses(tmp_path)
        assert status["version"] == "v2" and status["previous_version"] == "v1" and status["reason"] == "notified"
        thread = worker._thread
        assert thread is not None and thread.is_alive()
        del store
        gc.collect()
        thread.join(timeout=5)
        assert not thread.is_alive()
    finally:
        worker.stop()
    assert read_statuses(tmp_path) == []
