"""docker-compose.yml with the embedded-S3 override, brought up for real (`make test-images`): `podman-compose`
where podman is the engine, `docker compose` where docker is. The whole system comes up from the images, the
pipeline publishes, the app serves it and sends a batch to the compose Dask cluster; then everything is removed.

A third, generated file only makes the pipeline train two quick models with one OpenMP thread (the bundled five
take many minutes on two shared cores); the app and S3 ports are free loopback ports; every service is the
repository's.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from adaptml.s3server import free_port
from adaptml.signing import Keys, env_values

from .conftest import Report, fast_config
from .containers import Engine, wait_for
from .manifests import COMPOSE, EMBEDDED_S3_OVERRIDE

pytestmark = [pytest.mark.images, pytest.mark.timeout(1500)]

SECRETS = (
    "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "ADAPTML_PUBLISHER_ACCESS_KEY", "ADAPTML_PUBLISHER_SECRET_KEY",
    "ADAPTML_READER_ACCESS_KEY", "ADAPTML_READER_SECRET_KEY", "ADAPTML_RELOAD_SECRET",
    "ADAPTML_WEBHOOK_TOKEN",
)  # fmt: skip


def compose_command(engine: Engine) -> list[str]:
    if not engine.is_podman:
        return [engine.path, "compose"]
    found = shutil.which("podman-compose") or str(Path(sys.executable).with_name("podman-compose"))
    if not Path(found).exists():
        pytest.fail("podman-compose is missing: it is in the dev extra (pip install -e '.[dev]')")
    return [found]


class Stack:
    """One compose project: its files, its environment (fresh secrets, free ports) and its command line."""

    def __init__(self, engine: Engine, workdir: Path) -> None:
        self.engine = engine
        self.project = f"adaptml-test-{secrets.token_hex(3)}"
        self.app_port = free_port()
        config = fast_config(workdir, "compose-train.yaml", seed=0)
        fast = {"services": {"pipeline": {"command": ["train", "/app/test/config.yaml"],
                                          "environment": {"OMP_NUM_THREADS": "1"},  # see test_containers.py
                                          "volumes": [f"{config}:/app/test/config.yaml:ro"]}}}  # fmt: skip
        (workdir / "fast-pipeline.yml").write_text(yaml.safe_dump(fast))
        self.files = [COMPOSE, EMBEDDED_S3_OVERRIDE, workdir / "fast-pipeline.yml"]
        self.env = {**os.environ, **{name: secrets.token_hex(16) for name in SECRETS}, **env_values(Keys.generate())}
        self.env.update(ADAPTML_APP_PORT=str(self.app_port), ADAPTML_S3_PORT=str(free_port()))
        self.base = [*compose_command(engine), "-p", self.project, *(a for f in self.files for a in ("-f", str(f)))]

    def __call__(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.base, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        output = done.stdout[-4000:] + done.stderr[-4000:]
        assert not check or done.returncode == 0, f"compose {args[0]} failed:\n{output}"
        return done

    def up(self) -> None:
        """`up -d`; on podman, which before 4.6 cannot wait for a healthcheck and whose `--requires` starts one-shot
        jobs again, each service is started once its dependencies meet the conditions the files declare."""
        if not self.engine.is_podman:
            self("up", "-d")
            return
        services: dict[str, Any] = yaml.safe_load(self("config").stdout)["services"]
        graph = {name: set(service.get("depends_on", {})) for name, service in services.items()}
        for name in TopologicalSorter(graph).static_order():
            for dependency, rule in services[name].get("depends_on", {}).items():
                self.wait_for_condition(dependency, rule["condition"])
            self("up", "-d", "--no-deps", name)

    def wait_for_condition(self, service: str, condition: str) -> None:
        if condition == "service_healthy":
            name = self.container(service)
            wait_for(lambda: self.engine.healthy(name), timeout=300, interval=3, what=f"{service} to be healthy")
        elif condition == "service_completed_successfully":
            code = wait_for(lambda: [self.exit_code(service)] if self.exit_code(service) is not None else None,
                            timeout=900, interval=3, what=f"{service} to complete")  # fmt: skip
            assert code == [0], f"{service} exited with {code[0]}"
        else:
            wait_for(lambda: self.exit_code(service) is None, timeout=120, what=f"{service} to start")

    def container(self, service: str) -> str:
        labels = (f"label=com.docker.compose.project={self.project}", f"label=com.docker.compose.service={service}")
        names = self.engine("ps", "-a", "--filter", labels[0], "--filter", labels[1], "--format", "{{.Names}}")
        found = names.stdout.split()
        assert found, f"no container for {service}"
        return found[0]

    def exit_code(self, service: str) -> int | None:
        state = self.engine.inspect(self.container(service))["State"]
        return None if state["Running"] or state.get("Status") == "created" else int(state["ExitCode"])


@pytest.fixture(scope="module")
def stack(engine: Engine, images: dict[str, str], demo_image: str, tmp_path_factory, report: Report) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("compose")
    workdir.chmod(0o755)
    running = Stack(engine, workdir)
    started = time.monotonic()
    try:
        running.up()  # the images are built (and reused) by the session's fixtures, as `up --build` would
        yield running
        report.add(f"compose (embedded S3) up, trained, served and checked in {time.monotonic() - started:.0f} s")
    finally:
        logs = running("logs", check=False, timeout=120)
        print(f"--- compose logs ---\n{(logs.stdout + logs.stderr)[-8000:]}")
        running("down", "-v", "-t", "5", check=False, timeout=300)


def test_compose_with_the_embedded_s3_runs_end_to_end(stack: Stack):
    engine = stack.engine
    stack.wait_for_condition("minio-setup", "service_completed_successfully")
    stack.wait_for_condition("pipeline", "service_completed_successfully")
    for service in ("minio", "reload-webhook", "dask-scheduler", "app"):
        stack.wait_for_condition(service, "service_healthy")
    url = f"http://127.0.0.1:{stack.app_port}"
    ready = wait_for(lambda: requests.get(f"{url}/readyz", timeout=5).json().get("ready"), timeout=180,
                     what="the app to serve the published version")  # fmt: skip
    assert ready is True
    example = requests.get(f"{url}/api/v1/schema", timeout=10).json()["example"]

    def on_dask() -> bool:
        answer = requests.post(f"{url}/api/v1/predict", json={"records": [example] * 20}, timeout=120).json()
        return answer["engine"] == "dask" and answer["row_count"] == 20 and answer["error_count"] == 0

    wait_for(on_dask, timeout=180, interval=10, what="a batch computed by the compose Dask workers")
    assert engine("exec", stack.container("app"), "id", "-u").stdout.strip() == "10001"
