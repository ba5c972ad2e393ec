"""Fixtures of the image tests (`make test-images`): the engine, the built images, the host's embedded S3, a report.

Plain `make test` deselects the `images` marker, so nothing here builds or starts a container there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adaptml.s3server import client_environment, free_port

from .containers import DEFAULT_PYTHON_IMAGE, IMAGE_TAGS, Engine, find_engine, wait_for
from .manifests import ROOT

ADAPTML = str(Path(sys.executable).with_name("adaptml"))
TEST_BUCKET = "adaptml-demo"


class Report:
    """Lines (build times, sizes, durations) printed in pytest's terminal summary, whatever the capture mode."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.started = time.monotonic()

    def add(self, line: str) -> None:
        self.lines.append(f"[{time.monotonic() - self.started:5.0f} s] {line}")


REPORT = Report()


@pytest.fixture(scope="session")
def report() -> Report:
    return REPORT


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Build times, image sizes and durations, after the test results."""
    if REPORT.lines:
        terminalreporter.write_sep("-", "container images")
        for line in REPORT.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def engine() -> Engine:
    found = find_engine()
    if found is None:
        pytest.skip("no container engine: neither docker (with a running daemon) nor podman is installed")
    return found


@pytest.fixture(scope="session")
def images(engine: Engine, report: Report) -> dict[str, str]:
    """The pipeline and app images, built once per session (layers reused); build time and size reported."""
    python_image = os.environ.get("PYTHON_IMAGE", DEFAULT_PYTHON_IMAGE)
    report.add(f"engine {engine.name}, base image {python_image}")
    for target in ("pipeline", "app"):
        seconds = engine.build(target, python_image)
        size = engine.image_size(IMAGE_TAGS[target])
        report.add(f"{IMAGE_TAGS[target]:<26} built in {seconds:5.0f} s, {size / 1e6:6.0f} MB")
    return {target: IMAGE_TAGS[target] for target in ("pipeline", "app")}


@pytest.fixture(scope="session")
def demo_image(engine: Engine, images: dict[str, str], report: Report) -> str:
    seconds = engine.build("demo", os.environ.get("PYTHON_IMAGE", DEFAULT_PYTHON_IMAGE))
    size = engine.image_size(IMAGE_TAGS["demo"])
    report.add(f"{IMAGE_TAGS['demo']:<26} built in {seconds:5.0f} s, {size / 1e6:6.0f} MB")
    return IMAGE_TAGS["demo"]


@pytest.fixture(scope="session")
def host_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`adaptml s3` on the host's loopback (containers on the host network reach it); its client environment."""
    port = free_port()
    env = {**os.environ, **client_environment(f"http://127.0.0.1:{port}")}
    env.pop("AWS_PROFILE", None)
    log = (tmp_path_factory.mktemp("s3") / "s3.log").open("w")
    server = subprocess.Popen([ADAPTML, "s3", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _answers(port), timeout=60, what="the embedded S3 server")
        yield {key: env[key] for key in client_environment("")}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _answers(port: int) -> bool:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2) as answer:
        return bool(answer.status == 200)


def fast_config(directory: Path, name: str, *, seed: int, poll_seconds: float = 10.0) -> Path:
    """The bundled hotel_rates config with two quick models (a new split seed publishes a new version), readable
    by the images' non-root user when mounted."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "configs" / "hotel_rates.yaml").read_text())
    config["models"] = ["ridge", "lightgbm"]
    config["split"] = {**config.get("split", {}), "seed": seed}
    config["tuning"] = {"cv_folds": 2}
    config["serving"] = {"poll_seconds": poll_seconds}
    path = directory / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o644)
    return path


def s3_client(s3_env: dict[str, str]) -> Any:
    """A boto3 client for the host's embedded S3 (its environment is not exported to this process)."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id=s3_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_env["AWS_SECRET_ACCESS_KEY"],
        region_name=s3_env["AWS_DEFAULT_REGION"],
    ).client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"])


def seed(config: Path, s3_env: dict[str, str]) -> None:
    subprocess.run([ADAPTML, "seed", str(config)], env={**os.environ, **s3_env}, check=True, timeout=120)
