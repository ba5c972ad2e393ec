"""What the app emits is bounded and checked: metric labels from a fixed set, version names from the registry's.

Before, every distinct HTTP method a client invented (``BREW``, 10,000 random verbs) became a new Prometheus series,
and a version name from LATEST went verbatim into ``Content-Disposition``, ``X-Adaptml-Version`` and the version
gauge (header injection: ``v1"; filename="evil.exe``). Now unknown methods and paths count as "other", and an
answer that would name an invalid version is a 502 that names nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tests.reliability.served import published, served_app
from tests.serving.conftest import PROJECT, build_bundle

from adaptml.errors import AdaptmlError
from adaptml.registry import Registry
from adaptml.serving.validation import is_version_name
from adaptml.storage import Storage

RECORD = {"size": 50.5, "rooms": 2, "city": "paris", "listed": "2023-02-01"}
CRAFTED = 'v1"; filename="evil.exe'


def _series(metrics: str, name: str) -> list[str]:
    return [line for line in metrics.splitlines() if line.startswith(name + "{")]


def test_invented_methods_and_paths_do_not_grow_the_metrics(s3_client: Any, bucket: str, tmp_path: Path):
    with served_app(published(s3_client, bucket), tmp_path) as app:
        client = app.test_client()
        for number in range(200):
            client.open(f"/no/such/path/{number}", method=f"VERB{number}")
            client.open("/api/v1/predict", method=f"X{number}")
        metrics = client.get("/metrics").get_data(as_text=True)
    requests = _series(metrics, "adaptml_http_requests_total")
    methods = {re.search(r'method="([^"]*)"', line).group(1) for line in requests}  # type: ignore[union-attr]
    routes = {re.search(r'route="([^"]*)"', line).group(1) for line in requests}  # type: ignore[union-attr]
    assert methods <= {"GET", "POST", "other"}, methods
    assert "other" in routes and not any(route.startswith("/no/such") for route in routes), routes
    assert len(requests) < 10, requests


def test_version_names_follow_the_registrys_pattern():
    assert is_version_name("20240131T120000Z-1a2b3c4d") and is_version_name("v2")
    for bad in (CRAFTED, "v1\r\nSet-Cookie: a=b", "", "../v1", "v1 v2", "x" * 200, None):
        assert not is_version_name(bad), bad


@pytest.fixture
def crafted(s3_client: Any, bucket: str) -> Registry | None:
    """A registry whose LATEST names a crafted version, or None when the registry already refuses to publish it."""
    registry = Registry(f"s3://{bucket}/registry", PROJECT, storage=Storage(s3_client))
    bundle = build_bundle("regression")
    try:
        registry.publish(CRAFTED, bundle.files, bundle.metadata)
    except (AdaptmlError, ValueError):
        return None
    return registry


def test_a_crafted_version_name_is_never_emitted(crafted: Registry | None, tmp_path: Path):
    if crafted is None:  # refused upstream, at publish time: nothing reaches the app
        return
    with served_app(crafted, tmp_path) as app:
        client = app.test_client()
        answers = [
            client.get("/api/v1/models"),
            client.post("/api/v1/predict", json=RECORD),
            client.post("/api/v1/predict", json=RECORD, headers={"Accept": "text/csv"}),
            client.get("/metrics"),
        ]
    for answer in answers:
        headers = "\n".join(f"{key}: {value}" for key, value in answer.headers.items())
        assert "evil.exe" not in headers, headers
    models, predict, csv_answer, metrics = answers
    # loaded: every answer that would name it is refused (502); refused by the store: nothing is served (503)
    assert models.status_code == 502 or not models.get_json()["ready"], models.get_json()
    assert predict.status_code in (502, 503) and csv_answer.status_code in (502, 503)
    assert "evil" not in predict.get_data(as_text=True) + csv_answer.get_data(as_text=True)
    assert "evil.exe" not in metrics.get_data(as_text=True)
