"""Plain helpers (not fixtures) that tests/security builds its real apps with: a published tiny version in a fresh
bucket of the embedded S3, and the app or gunicorn serving it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.load_test import Served, gunicorn, write_config
from flask import Flask
from tests.serving.conftest import PROJECT, build_bundle, make_settings

from adaptml.registry import Registry
from adaptml.serving import create_app
from adaptml.signing import Keys
from adaptml.storage import Storage

__all__ = ["published", "served_app", "served_gunicorn"]

KEYS = Keys.generate()  # versions are signed as `adaptml train` signs them; gunicorn gets the public half


def published(s3_client: Any, bucket: str, *, task: str = "regression") -> Registry:
    """A registry in ``bucket`` (created) with version v1 of the tiny ``task`` bundle published."""
    storage = Storage(s3_client)
    storage.ensure_bucket(bucket)
    registry = Registry(f"s3://{bucket}/registry", PROJECT, storage=storage, keys=KEYS)
    bundle = build_bundle(task)
    registry.publish("v1", bundle.files, bundle.metadata)
    return registry


@contextmanager
def served_app(registry: Registry, workdir: Path, **serving: Any) -> Iterator[Flask]:
    """The Flask app for ``registry``, no Dask, small limits unless overridden; its store closed after."""
    settings = make_settings(registry, workdir / "results", dask_threshold=100_000, **serving)
    app = create_app(replace(settings, runtime_dir=str(workdir / "runtime")), registry=registry)
    try:
        yield app
    finally:
        app.extensions["adaptml"].store.close()


@contextmanager
def served_gunicorn(
    registry: Registry, workdir: Path, *, workers: int = 1, threads: int = 2, **serving: Any
) -> Iterator[Served]:
    """gunicorn on loopback serving ``registry`` (polling off, no Dask), until the block ends."""
    config = write_config(workdir / "config.yaml", str(registry.root), project=registry.project, **serving)
    with gunicorn(config, keys=KEYS, workers=workers, threads=threads, workdir=workdir) as running:
        yield running
