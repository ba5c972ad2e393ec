"""Fixtures for the reliability tests: the serving tests' tiny real versions, published to the embedded S3.

Chain: bundle (fitted once per session, by tests/serving's builder) -> registry (fresh bucket) -> app -> client.
The apps here never use Dask (its own fault test starts a real scheduler), so batches are predicted directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from tests.serving.conftest import PROJECT, Bundle, build_bundle, make_settings

from adaptml.registry import Registry
from adaptml.serving import create_app

NO_DASK = {"dask_threshold": 100_000}


@pytest.fixture(scope="session")
def regression() -> Bundle:
    return build_bundle("regression")


@pytest.fixture(scope="session")
def classification() -> Bundle:
    return build_bundle("classification")


@pytest.fixture
def registry(storage: Any, bucket: str) -> Registry:
    return Registry(f"s3://{bucket}/registry", PROJECT, storage=storage)


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """A factory: the app for a registry, with small limits (overridable), no Dask and, unless given a reload
    secret, the reload endpoint disabled; stores closed after."""
    apps: list[Flask] = []

    def build(registry: Registry, *, reload_secret: bytes | None = None, **serving: Any) -> Flask:
        settings = make_settings(registry, tmp_path / "results", **{**NO_DASK, **serving})
        app = create_app(replace(settings, reload_secret=reload_secret), registry=registry)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["adaptml"].store.close()


@pytest.fixture
def app(registry: Registry, regression: Bundle, make_app: Callable[..., Flask]) -> Flask:
    registry.publish("v1", regression.files, regression.metadata)
    return make_app(registry)


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()
