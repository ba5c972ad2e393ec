"""Fixtures for the registry attacks: a publisher holding the private key, an app built the production way with
only the public key, and payload pickles that write a marker file when unpickled (proof that code ran)."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from tests.serving.conftest import PROJECT, Bundle, build_bundle, make_settings

from adaptml.registry import Registry
from adaptml.serving import create_app
from adaptml.signing import Keys
from adaptml.storage import Storage

RECORD = {"size": 50.5, "rooms": 2, "city": "paris", "listed": "2023-02-01"}


class Payload:
    """Unpickling this creates ``path``: the attacker's code running in the process that loads it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def payload_files(bundle: Bundle, marker: Path) -> dict[str, bytes]:
    """A version's files with one model replaced by the payload."""
    return {**bundle.files, "models/ridge.pkl": pickle.dumps(Payload(marker))}


def copy_prefix(storage: Storage, source: str, target: str) -> None:
    """What an attacker with S3 write access (and no key) does: copy objects byte for byte."""
    for uri in storage.list(f"{source}/"):
        storage.put_bytes(target + uri[len(source) :], storage.get_bytes(uri))


@pytest.fixture(scope="session")
def bundle() -> Bundle:
    return build_bundle("regression")


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def publisher(storage: Storage, bucket: str, keys: Keys) -> Registry:
    """``adaptml train``'s view of the registry: it holds the private key."""
    return Registry(f"s3://{bucket}/registry", PROJECT, storage=storage, keys=keys)


@pytest.fixture
def intruder(publisher: Registry) -> Registry:
    """Someone with the bucket's credentials and no key."""
    return Registry(str(publisher.root), publisher.project, storage=publisher.storage)


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """An app built the production way: settings carrying the given keys, create_app making its own registry."""
    apps: list[Flask] = []

    def build(registry: Registry, app_keys: Keys) -> Flask:
        settings = make_settings(registry, tmp_path / "results", dask_threshold=100_000)
        app = create_app(replace(settings, keys=app_keys))
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["adaptml"].store.close()


def serves(app: Flask, version: str) -> None:
    answer = app.test_client().post("/api/v1/predict", json=RECORD)
    assert answer.status_code == 200 and answer.headers["X-Adaptml-Version"] == version, answer.get_json()


def refused(app: Flask, reason: str, version: str | None = None) -> str:
    """Refresh now; assert the store refused (for ``reason``) and return the public reason."""
    outcome = app.extensions["adaptml"].store.refresh(version)
    assert outcome.action == "refused", outcome
    assert reason in (outcome.reason or ""), outcome.reason
    return outcome.reason or ""
