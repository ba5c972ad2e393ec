"""Reload and the fast paths: the switch never waits for them; a version with the served version's pickles, gate
records and schema carries its gated fast paths over instead of deriving and gating again; anything changed is
derived and gated anew, the pickled pipelines serving meanwhile."""

from __future__ import annotations

import threading

import pytest
from tests.serving.zoo_versions import ZooVersion, build_zoo_version

from adaptml.registry import Registry
from adaptml.serving.compiled.derive import derive_fast_paths
from adaptml.serving.loaded import LoadedModels
from adaptml.serving.store import ModelStore


class Counting:
    """The real derivation, counting the versions it derived; ``hold`` holds it until released."""

    def __init__(self, hold: bool = False) -> None:
        self.versions: list[str] = []
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, models: LoadedModels) -> LoadedModels:
        self.release.wait(60)
        self.versions.append(models.version)
        return derive_fast_paths(models)


@pytest.fixture(scope="module")
def zoo() -> ZooVersion:
    return build_zoo_version("adult", rows=600, with_gate=True)


@pytest.fixture
def zoo_registry(storage, bucket, zoo: ZooVersion) -> Registry:
    registry = Registry(f"s3://{bucket}/registry", "zoo", storage=storage)
    registry.publish("v1", zoo.files, zoo.metadata)
    return registry


def _served(registry: Registry) -> tuple[ModelStore, Counting]:
    """A store serving the registry's version with its fast paths derived, and the derivation it counts with."""
    derive = Counting()
    store = ModelStore(registry, derive=derive)
    store.refresh()
    assert store.wait_fast_paths(60)
    return store, derive


def _enabled(store: ModelStore) -> dict[str, bool]:
    return {m["name"]: m["fast_path"]["enabled"] for m in store.status()["models"]}


def test_a_republished_version_carries_the_gated_fast_paths_without_deriving(zoo_registry, zoo):
    store, derive = _served(zoo_registry)
    first = store.current
    assert first is not None and first.fast_paths is not None and all(p.enabled for p in first.fast_paths.values())
    zoo_registry.publish("v2", zoo.files, zoo.metadata)
    assert store.refresh().action == "loaded"
    second = store.current
    assert second is not None and second.version == "v2"
    assert second.fast_paths == first.fast_paths and second.fast_key == first.fast_key
    assert second.predictors == first.predictors and second.reused == frozenset(first.models)
    assert derive.versions == ["v1"]  # nothing derived or gated for v2
    assert _enabled(store) == {name: path.enabled for name, path in first.fast_paths.items()}


def test_a_changed_model_switches_at_once_and_is_gated_again(zoo_registry, zoo):
    store, derive = _served(zoo_registry)
    first = store.current
    derive.release.clear()  # hold v2's derivation: the switch must not wait for it
    changed = {**zoo.files, "models/ridge.pkl": zoo.files["models/ridge.pkl"] + b"#v2"}
    zoo_registry.publish("v2", changed, zoo.metadata)
    assert store.refresh().action == "loaded"
    served = store.current
    assert served is not None and served.version == "v2" and served.fast_paths is None
    assert all(
        not m["fast_path"]["enabled"] and "not derived yet" in m["fast_path"]["reason"]
        for m in store.status()["models"]
    )
    assert served.reused == frozenset(first.models) - {"ridge"}
    derive.release.set()
    assert store.wait_fast_paths(60)
    upgraded = store.current
    assert upgraded.version == "v2" and upgraded.fast_paths is not None
    assert derive.versions == ["v1", "v2"] and upgraded.fast_key != first.fast_key
    assert upgraded.fast_paths["ridge"].enabled and upgraded.fast_paths["ridge"].gate == first.fast_paths["ridge"].gate


def test_changed_gate_records_are_gated_again(zoo_registry, zoo):
    derive = Counting()
    store = ModelStore(zoo_registry, derive=derive)
    store.refresh()
    assert store.wait_fast_paths(60)
    before = store.current.fast_paths["ridge"]
    gate = zoo.files.get("gate.csv")
    assert gate, "the bundle carries gate records"
    fewer = b"\n".join(gate.rstrip(b"\n").split(b"\n")[:-1]) + b"\n"  # one record less
    zoo_registry.publish("v2", {**zoo.files, "gate.csv": fewer}, zoo.metadata)
    assert store.refresh().action == "loaded" and store.current.fast_paths is None
    assert store.wait_fast_paths(60)
    assert derive.versions == ["v1", "v2"] and store.current.fast_paths is not None
    assert store.current.fast_paths["ridge"].gate_records == before.gate_records - 1


def test_an_underived_served_version_is_not_carried(zoo_registry, zoo):
    derive = Counting(hold=True)
    store = ModelStore(zoo_registry, derive=derive)
    store.refresh()  # v1 served, its derivation held
    zoo_registry.publish("v2", zoo.files, zoo.metadata)
    assert store.refresh().action == "loaded" and store.current.fast_paths is None
    derive.release.set()
    assert store.wait_fast_paths(60)
    assert store.current.version == "v2" and store.current.fast_paths is not None
    assert "v2" in derive.versions
