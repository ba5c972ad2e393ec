"""The ModelStore: verified, smoke-tested versions swapped atomically; refusals keep the old set serving."""

from __future__ import annotations

import pickle
import threading
import time

import boto3
from botocore.config import Config as BotoConfig

from adaptml.registry import Registry
from adaptml.s3server import EmbeddedS3, free_port
from adaptml.serving import create_app
from adaptml.serving.store import ModelStore
from adaptml.storage import Storage


def wait_until(condition, timeout: float = 30.0) -> bool:
    """Poll a condition (never asserting on elapsed time); True once it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_refresh_loads_latest_then_reports_unchanged(registry, published):
    store = ModelStore(registry)
    assert not store.ready and "not been attempted" in store.status()["reason"]
    outcome = store.refresh()
    assert (outcome.action, outcome.version, outcome.ok) == ("loaded", "v1", True)
    assert store.refresh().action == "unchanged"
    status = store.status()
    assert status["ready"] and status["version"] == "v1" and status["loaded_at"]
    assert [m["name"] for m in status["models"]] == [row["model"] for row in published.metadata["leaderboard"]]


def test_tampered_model_is_refused_and_the_old_version_keeps_serving(registry, published, storage):
    store = ModelStore(registry)
    store.refresh()
    assert store.wait_fast_paths(60)  # the fast paths are swapped in (same version) once derived
    served = store.current
    registry.publish("v2", published.files, published.metadata)
    storage.put_bytes(registry.version_uri("v2").join("models/ridge.pkl"), pickle.dumps("evil"))
    outcome = store.refresh()
    assert outcome.action == "refused" and outcome.version == "v2"
    assert "models/ridge.pkl does not match its sha256" in outcome.reason
    assert store.current is served
    assert store.status()["last_refusal"]["version"] == "v2"


def test_a_version_whose_model_cannot_predict_is_refused(registry, published):
    store = ModelStore(registry)
    store.refresh()
    broken = {**published.files, "models/ridge.pkl": pickle.dumps({"not": "a model"})}
    registry.publish("v2", broken, published.metadata)
    outcome = store.refresh()
    assert outcome.action == "refused"
    assert "model ridge failed the smoke prediction" in outcome.reason
    assert store.current.version == "v1"


def test_unpicklable_model_is_refused(registry, published):
    store = ModelStore(registry)
    registry.publish("v2", {**published.files, "models/ridge.pkl": b"not a pickle"}, published.metadata)
    outcome = store.refresh()
    assert outcome.action == "refused" and "models/ridge.pkl cannot be unpickled" in outcome.reason
    assert not store.ready


def test_refresh_to_a_named_version_and_swap_listeners(registry, published):
    store = ModelStore(registry)
    seen: list[str] = []
    store.on_swap(lambda models: seen.append(models.version))
    registry.publish("v2", published.files, published.metadata)
    assert store.refresh().version == "v2"
    # a version published later, named (v1 would be refused as older whenever its publish fell in an earlier second)
    registry.publish("v3", published.files, published.metadata)
    assert store.refresh("v3").action == "loaded"
    assert seen == ["v2", "v3"]


def test_concurrent_refreshes_load_once(registry, published):
    loads: list[str] = []
    store = ModelStore(registry)
    original = registry.load

    def counting_load(*args, **kwargs):
        loads.append("load")
        return original(*args, **kwargs)

    registry.load = counting_load  # type: ignore[method-assign]
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(store.refresh().action)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["loaded", "unchanged", "unchanged", "unchanged"]
    assert loads == ["load"]


def test_nothing_published_is_not_ready_with_reason(registry):
    store = ModelStore(registry)
    outcome = store.refresh()
    assert outcome.action == "refused" and outcome.version is None
    status = store.status()
    assert not status["ready"] and "no published version of homes" in status["reason"]
    assert status["last_refusal"] is None


def test_s3_down_at_start_then_ready_when_s3_comes_back(published, settings_for):
    """The app starts without S3, answers /readyz 503 with the reason, and loads once S3 is reachable."""
    port = free_port()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        config=BotoConfig(connect_timeout=1, retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    registry = Registry("s3://late-bucket/registry", "homes", storage=Storage(client))
    app = create_app(settings_for(registry), registry=registry, dask=None)
    web = app.test_client()
    try:
        down = web.get("/readyz")
        assert down.status_code == 503
        reason = down.get_json()["reason"]
        assert "S3 endpoint unreachable" in reason
        assert str(port) not in reason and "late-bucket" not in reason  # public: no endpoint, no bucket
        assert web.get("/healthz").status_code == 200
        assert web.post("/api/v1/predict", json={}).status_code == 503
        page = web.get("/")
        assert page.status_code == 503 and b"No model version is loaded yet" in page.data
        server = EmbeddedS3("127.0.0.1", port).start()
        try:
            registry.storage.ensure_bucket("late-bucket")
            registry.publish("v1", published.files, published.metadata)
            assert wait_until(lambda: web.get("/readyz").status_code == 200)
            assert web.get("/readyz").get_json()["version"] == "v1"
        finally:
            server.stop()
    finally:
        app.extensions["adaptml"].store.close()


def test_the_store_never_goes_back_on_its_own(storage, bucket, published):
    """A replayed LATEST is refused before anything is downloaded; a promotion is followed."""
    from adaptml.signing import Keys

    keys = Keys.generate()
    publisher = Registry(f"s3://{bucket}/signed", "homes", storage=storage, keys=keys)
    publisher.publish("v1", published.files, published.metadata)
    first_pointer = storage.get_bytes(publisher.latest_uri)
    publisher.publish("v2", published.files, published.metadata)
    store = ModelStore(Registry(str(publisher.root), "homes", storage=storage, keys=keys.reader()), derive=None)
    assert store.refresh().version == "v2"
    storage.put_bytes(publisher.latest_uri, first_pointer)
    outcome = store.refresh()
    assert outcome.action == "refused" and outcome.version == "v1" and "replayed pointer" in (outcome.reason or "")
    publisher.promote("v1")
    assert store.refresh().action == "loaded" and store.version == "v1"
