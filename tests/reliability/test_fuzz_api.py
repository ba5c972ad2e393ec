"""Schemathesis fuzzes every operation of our own /openapi.json against the in-process WSGI app.

Checked for each generated request: no 5xx, and the response conforms to the spec (documented status code, content
type, headers and body schema; 405 with an Allow header for undocumented methods). Operations with a request body
are also fuzzed with schema-violating (negative) data. Three apps: a regression version, a classification version
(probabilities in the answer), and one with nothing published (every route in its not-ready state).

Not checked, on purpose: that every schema-valid request is accepted (a record the spec allows can still hold a
date the schema cannot read: that is a documented 400) and that every schema-invalid one is refused (the API
accepts "3" for a number, as CSV does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from tests.serving.conftest import Bundle

from adaptml.registry import Registry
from adaptml.serving.openapi import openapi_spec

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

EXAMPLES = {"positive": 40, "negative": 25}
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
    st_checks.unsupported_method,
    st_checks.allow_header_conformance,
]


@schemathesis.check
def only_not_ready(ctx: Any, response: Any, case: Any) -> bool | None:
    """With nothing published, a 5xx must be the 503 that says the app is not ready yet."""
    if response.status_code >= 500 and response.status_code != 503:
        raise AssertionError(f"{response.status_code} while not ready: {response.text[:200]}")
    return None


NOT_READY_CHECKS = [check for check in CHECKS if check is not st_checks.not_a_server_error] + [only_not_ready]
OPERATIONS = sorted(
    (method.upper(), path, "requestBody" in operation)
    for path, item in openapi_spec()["paths"].items()
    for method, operation in item.items()
)
STATES = ("regression", "classification", "not-ready")


@pytest.fixture(scope="module", params=STATES)
def schema(request: Any, s3_client: Any) -> Any:
    """The spec as the app serves it, bound to that app, for each app state (built once per module)."""
    from adaptml.storage import Storage

    storage = Storage(s3_client)
    bucket = f"fuzz-{request.param}"
    storage.ensure_bucket(bucket)
    registry = Registry(f"s3://{bucket}/registry", "homes", storage=storage)
    if request.param != "not-ready":
        bundle: Bundle = request.getfixturevalue(request.param)
        if not registry.versions():
            registry.publish("v1", bundle.files, bundle.metadata)
    make_app: Callable[..., Flask] = request.getfixturevalue("make_app_module")
    app = make_app(registry)
    return request.param, schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.fixture(scope="module")
def make_app_module(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """make_app for module-scoped apps (the reload endpoint enabled with a secret, so it is fuzzed too)."""
    from tests.serving.conftest import make_settings

    from adaptml.serving import create_app

    apps: list[Flask] = []

    def build(registry: Registry) -> Flask:
        settings = make_settings(registry, tmp_path_factory.mktemp("results"), dask_threshold=100_000)
        app = create_app(replace(settings, reload_secret=b"fuzz-secret"), registry=registry)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["adaptml"].store.close()


def _fuzz(operation: Any, mode: GenerationMode, checks: list[Any]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode.value],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(checks=checks)

    check()


@pytest.mark.parametrize(("method", "path", "has_body"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_response_conforms_and_none_is_a_server_error(schema: Any, method: str, path: str, has_body: bool):
    state, spec = schema
    operation = spec[path][method]
    checks = NOT_READY_CHECKS if state == "not-ready" else CHECKS
    _fuzz(operation, GenerationMode.POSITIVE, checks)
    if has_body:
        _fuzz(operation, GenerationMode.NEGATIVE, checks)
