"""``adaptml serve`` and ``adaptml predict`` as a user runs them, and the gunicorn WSGI entry."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests
import yaml

from adaptml.registry import Registry
from adaptml.s3server import free_port
from adaptml.signing import VERIFY_KEY_ENV, Keys, env_values

KEYS = Keys.generate()


def write_config(path: Path, registry, **serving) -> Path:
    config = {
        "project": registry.project,
        "data": {"uri": f"s3://{registry.root.bucket}/data/homes.csv", "target": "price"},
        "registry": str(registry.root),
        "serving": {"preview_rows": 5, **serving},
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def scheduler(dask_engine, monkeypatch) -> str:
    """DASK_SCHEDULER_ADDRESS set to the session's cluster, as compose points the app at its scheduler: the
    production app then connects to it instead of starting a local cluster of its own in this process (a dask
    worker process tree that only pytest's exit stopped, and that its warm-up thread could restart after close)."""
    address = dask_engine.client().scheduler.address
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    return address


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adaptml.cli", *args], capture_output=True, text=True, timeout=timeout, env=os.environ
    )


@pytest.fixture
def published(registry, regression_bundle, monkeypatch):
    """Overrides the conftest's: v1 signed as ``adaptml train`` publishes it, the public key in the environment
    that the commands (and the WSGI entry) read."""
    signed = Registry(str(registry.root), registry.project, storage=registry.storage, keys=KEYS)
    signed.publish("v1", regression_bundle.files, regression_bundle.metadata)
    monkeypatch.setenv(VERIFY_KEY_ENV, env_values(KEYS)[VERIFY_KEY_ENV])
    return regression_bundle


def test_predict_command_writes_the_results_csv(registry, published, tmp_path, client):
    config = write_config(tmp_path / "homes.yaml", registry)
    source = tmp_path / "in.csv"
    published.features.head(4).assign(extra=1).to_csv(source, index=False)
    result = run_cli("predict", str(config), str(source), "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 0, result.stderr
    assert "homes version v1: 4 rows x 3 models (direct)" in result.stdout
    assert "ignored extra columns: extra" in result.stdout
    api = client.post(
        "/api/v1/predict", data=source.read_bytes(), content_type="text/csv", headers={"Accept": "text/csv"}
    )
    assert (tmp_path / "out.csv").read_bytes() == api.data


def test_predict_command_previews_without_output_and_fails_in_one_line(registry, published, tmp_path):
    config = write_config(tmp_path / "homes.yaml", registry)
    source = tmp_path / "in.csv"
    published.features.head(12).to_csv(source, index=False)
    preview = run_cli("predict", str(config), str(source))
    assert preview.returncode == 0 and "first 10 of 12 rows" in preview.stdout and "random_forest" in preview.stdout
    (tmp_path / "bad.csv").write_text("size,rooms,city,listed\nx,1,nice,2023-01-01\n")
    bad = run_cli("predict", str(config), str(tmp_path / "bad.csv"))
    assert bad.returncode == 1
    assert "row 1, column 'size': expected a number, got 'x'" in bad.stderr and "Traceback" not in bad.stderr


def test_serve_command_serves_until_interrupted(registry, published, tmp_path):
    config = write_config(tmp_path / "homes.yaml", registry)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "adaptml.cli", "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ready is None:
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            except requests.ConnectionError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200 and ready.json()["version"] == "v1"
        record = published.features.head(1).to_dict("records")[0]
        answer = requests.post(f"http://127.0.0.1:{port}/api/v1/predict", json=record, timeout=30).json()
        assert answer["version"] == "v1" and len(answer["rows"][0]["predictions"]) == 3
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=30)
    assert "serving homes version v1" in out and f"http://127.0.0.1:{port}/" in out


def test_serve_without_config_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv("ADAPTML_CONFIG", raising=False)
    result = run_cli("serve")
    assert result.returncode == 1 and "pass --config CONFIG.yaml or set ADAPTML_CONFIG" in result.stderr


def test_wsgi_entry_builds_the_app_from_the_environment(registry, published, tmp_path, monkeypatch, scheduler):
    from adaptml.serving import wsgi

    monkeypatch.setenv("ADAPTML_CONFIG", str(write_config(tmp_path / "homes.yaml", registry)))
    monkeypatch.setattr(wsgi, "_app", None)
    app = wsgi.app
    try:
        assert wsgi.app is app
        response = app.test_client().post("/api/v1/predict", json=published.features.head(1).to_dict("records"))
        assert response.status_code == 200 and response.get_json()["version"] == "v1"
    finally:
        app.extensions["adaptml"].store.close()
        app.extensions["adaptml"].dask.close()
    with pytest.raises(AttributeError):
        wsgi.nothing  # noqa: B018


def test_results_stay_readable_from_another_app_on_the_same_host(registry, published, settings, tmp_path):
    """Downloads live in a shared directory, so a second worker process can serve them."""
    from adaptml.serving import create_app

    first, second = (create_app(settings, registry=registry, dask=None) for _ in range(2))
    try:
        html = (
            first.test_client()
            .post(
                "/upload",
                data={"file": (io.BytesIO(published.features.head(2).to_csv(index=False).encode()), "x.csv")},
                content_type="multipart/form-data",
            )
            .get_data(as_text=True)
        )
        link = html.split('id="download-csv" href="')[1].split('"')[0].replace("&amp;", "&")
        table = pd.read_csv(io.BytesIO(second.test_client().get(link).data))
        assert len(table) == 2
    finally:
        for app in (first, second):
            app.extensions["adaptml"].store.close()


def test_the_environment_is_read_into_typed_settings_once(registry, tmp_path, monkeypatch):
    """Every variable adaptml reads, read by the entry points in one place and carried by the settings."""
    from adaptml.serving.settings import Environment, ServingSettings

    monkeypatch.setenv("ADAPTML_SIGNING_KEY", env_values(Keys.generate())["ADAPTML_SIGNING_KEY"])  # not this one
    environ = {
        "ADAPTML_CONFIG": str(write_config(tmp_path / "homes.yaml", registry)),
        "DASK_SCHEDULER_ADDRESS": "tcp://scheduler:8786",
        "ADAPTML_SIGNING_KEY": env_values(KEYS)["ADAPTML_SIGNING_KEY"],
        "ADAPTML_RESULTS_DIR": str(tmp_path / "results"),
        "ADAPTML_RUNTIME_DIR": str(tmp_path / "runtime"),
        "ADAPTML_RELOAD_SECRET": "a-reload-secret-4f2c9e",
    }
    environment = Environment.read(environ)
    settings = ServingSettings.from_config(environment.config(None), environment)
    assert environment.dask_scheduler == "tcp://scheduler:8786"
    assert (settings.project, settings.reload_secret) == ("homes", b"a-reload-secret-4f2c9e")
    assert settings.keys.key_id == KEYS.key_id and settings.keys.private is None  # the app holds the public key only
    assert settings.resolved_results_dir() == tmp_path / "results" and settings.runtime_dir == str(tmp_path / "runtime")
    assert Environment.read(environ, reload_secret=False).reload_secret is None
    bare = ServingSettings.from_config(environment.config(None))
    assert (bare.keys.public, bare.keys.insecure_unsigned, bare.reload_secret, bare.runtime_dir) == (
        None,
        False,
        None,
        None,
    )


def test_an_app_built_without_dask_predicts_every_batch_directly(registry, published, settings_for):
    from adaptml.serving import create_app

    app = create_app(settings_for(registry, dask_threshold=2), registry=registry, dask=None)
    try:
        answer = app.test_client().post("/api/v1/predict", json=published.features.head(5).to_dict("records"))
        assert answer.status_code == 200 and answer.get_json()["engine"] == "direct"
    finally:
        app.extensions["adaptml"].store.close()
