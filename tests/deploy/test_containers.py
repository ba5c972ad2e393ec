"""The images built and run for real (`make test-images`): the pipeline image trains and publishes to the host's
embedded S3, the app image serves it under gunicorn as the Dockerfile runs it, batches go to Dask (the app's own
cluster, and a scheduler and worker run from the app image), and a new version reaches the running containers
without a restart, by the reload notification and by polling. Containers share the host network (so they reach the
embedded S3 on 127.0.0.1) and bind 127.0.0.1 only.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from adaptml.reload.handler import HandlerSettings, process_event
from adaptml.s3server import free_port
from adaptml.signing import Keys, env_values

from .conftest import TEST_BUCKET, Report, fast_config, s3_client, seed
from .containers import Engine, wait_for

pytestmark = [pytest.mark.images, pytest.mark.timeout(1800)]

KEYS = env_values(Keys.generate())  # the pipeline signs with the private key; apps get only the public one
RELOAD_SECRET = secrets.token_hex(32)
CONFIG_IN_CONTAINER = "/app/test/config.yaml"
# One OpenMP thread (LightGBM, XGBoost): on a machine whose cores are shared with other jobs, spinning OpenMP threads
# slow training tenfold. Users' containers keep the default.
SHARED_CORES = {"OMP_NUM_THREADS": "1"}
COMPILERS = ("gcc", "cc", "c++", "g++", "clang", "ld", "as", "make")


class Deployment:
    """What the tests share: configs, the containers started so far and their ports, the published versions."""

    def __init__(self, engine: Engine, images: dict[str, str], s3_env: dict[str, str], workdir: Path) -> None:
        self.engine, self.images, self.s3_env, self.workdir = engine, images, s3_env, workdir
        self.tag = secrets.token_hex(3)
        self.containers: list[str] = []
        self.ports: dict[str, int] = {}

    def latest(self) -> str:
        body = s3_client(self.s3_env).get_object(Bucket=TEST_BUCKET, Key="registry/hotel-rates/LATEST")["Body"].read()
        return str(json.loads(body)["version"])

    def publish(self, config: Path, report: Report) -> str:
        """Run the pipeline image (its entrypoint is `adaptml`) on ``config``; the version it published."""
        started = time.monotonic()
        self.engine.run_once(
            self.images["pipeline"], ["train", CONFIG_IN_CONTAINER],
            env={**self.s3_env, **SHARED_CORES, "ADAPTML_SIGNING_KEY": KEYS["ADAPTML_SIGNING_KEY"]},
            mounts=[f"{config}:{CONFIG_IN_CONTAINER}:ro"],
        )  # fmt: skip
        version = self.latest()
        report.add(f"pipeline image published {version} in {time.monotonic() - started:.0f} s")
        return version

    def start_app(self, role: str, config: Path, **env: str) -> str:
        """The app image with its own command (gunicorn); only the port moves, bound to 127.0.0.1 (host network)."""
        port = self.ports[role] = free_port()
        image_env = dict(e.split("=", 1) for e in self.engine.inspect(self.images["app"])["Config"]["Env"])
        gunicorn = f"{image_env['GUNICORN_CMD_ARGS']} --bind 127.0.0.1:{port}"
        environment = {
            **self.s3_env, **SHARED_CORES, "ADAPTML_CONFIG": CONFIG_IN_CONTAINER,
            "ADAPTML_VERIFY_KEY": KEYS["ADAPTML_VERIFY_KEY"],
            "PORT": str(port), "GUNICORN_CMD_ARGS": gunicorn, **env,
        }  # fmt: skip
        return self.start(role, self.images["app"], env=environment, mounts=[f"{config}:{CONFIG_IN_CONTAINER}:ro"])

    def start(self, role: str, image: str, argv: tuple[str, ...] = (), **options: Any) -> str:
        name = self.engine.start(f"adaptml-test-{role}-{self.tag}", image, argv, **options)
        self.containers.append(name)
        return name

    def url(self, role: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[role]}{path}"

    def serving(self, role: str) -> str | None:
        answer = requests.get(self.url(role, "/readyz"), timeout=5)
        return answer.json().get("version") if answer.status_code == 200 else None

    def predict(self, role: str, rows: int) -> dict[str, Any]:
        example = requests.get(self.url(role, "/api/v1/schema"), timeout=10).json()["example"]
        payload: Any = example if rows == 1 else {"records": [example] * rows}
        answer = requests.post(self.url(role, "/api/v1/predict"), json=payload, timeout=180)
        assert answer.status_code == 200, answer.text[:500]
        result: dict[str, Any] = answer.json()
        return result


@pytest.fixture(scope="module")
def deployment(engine, images, host_s3, tmp_path_factory, report) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("images")
    workdir.chmod(0o755)
    first = fast_config(workdir, "train-1.yaml", seed=0)
    seed(first, host_s3)
    deployed = Deployment(engine, images, host_s3, workdir)
    deployed.publish(first, report)
    try:
        yield deployed
    finally:
        for name in deployed.containers:
            if any(word in name for word in ("app", "dask")):
                print(f"--- logs of {name} ---\n{engine.logs(name)[-4000:]}")
        engine.remove(*deployed.containers)


@pytest.fixture(scope="module")
def notified_app(deployment: Deployment, report: Report) -> str:
    """An app that only hears of new versions by notification (it polls once an hour)."""
    config = fast_config(deployment.workdir, "app-notified.yaml", seed=0, poll_seconds=3600)
    name = deployment.start_app("notified", config, ADAPTML_RELOAD_SECRET=RELOAD_SECRET)
    started = time.monotonic()
    wait_for(lambda: deployment.engine.healthy(name), timeout=300, interval=3, what=f"{name}'s HEALTHCHECK")
    wait_for(lambda: deployment.serving("notified"), timeout=180, what="the app to load a version")
    report.add(f"app container healthy and ready in {time.monotonic() - started:.0f} s")
    return name


@pytest.fixture(scope="module")
def dask_cluster(deployment: Deployment) -> str:
    """A scheduler and one worker run from the app image; the scheduler's address."""
    port, dashboard = free_port(), free_port()
    image = deployment.images["app"]
    deployment.start(
        "dask-scheduler", image,
        ("dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--dashboard-address", f"127.0.0.1:{dashboard}"),
    )  # fmt: skip
    worker = deployment.start(
        "dask-worker", image,
        ("dask", "worker", f"tcp://127.0.0.1:{port}", "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
         "--no-dashboard", "--memory-limit", "2GiB"),
        env=SHARED_CORES,
    )  # fmt: skip
    wait_for(lambda: "Registered to" in deployment.engine.logs(worker), timeout=180, what="the Dask worker to register")
    return f"tcp://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def polling_app(deployment: Deployment, dask_cluster: str) -> str:
    """An app with no reload secret that polls every 2 s, sending batches to the containerised Dask cluster."""
    config = fast_config(deployment.workdir, "app-polling.yaml", seed=0, poll_seconds=2)
    name = deployment.start_app("polling", config, DASK_SCHEDULER_ADDRESS=dask_cluster)
    wait_for(lambda: deployment.engine.healthy(name), timeout=300, interval=3, what=f"{name}'s HEALTHCHECK")
    wait_for(lambda: deployment.serving("polling"), timeout=180, what="the polling app to load a version")
    return name


def test_images_run_as_non_root_and_carry_no_compilers(engine: Engine, images: dict[str, str]):
    for image in images.values():
        assert engine.inspect(image)["Config"]["User"] == "10001:10001", image
        probe = "id -u; for tool in " + " ".join(COMPILERS) + '; do command -v "$tool" || true; done'
        lines = engine.run_once(image, ["-c", probe], entrypoint="sh").stdout.split()
        assert lines[0] == "10001", image
        assert lines[1:] == [], f"{image} carries build tools: {lines[1:]}"


def test_the_app_image_serves_what_the_pipeline_image_published(deployment: Deployment, notified_app: str):
    assert deployment.serving("notified") == deployment.latest()
    assert deployment.engine("exec", notified_app, "id", "-u").stdout.strip() == "10001"
    one = deployment.predict("notified", 1)
    assert one["engine"] == "direct" and one["row_count"] == 1
    batch = deployment.predict("notified", 50)
    assert batch["engine"] == "dask", batch.get("warnings")
    assert batch["row_count"] == 50 and batch["error_count"] == 0


def test_a_batch_runs_on_the_dask_containers(deployment: Deployment, polling_app: str, dask_cluster: str):
    from distributed import Client

    batch = wait_for(
        lambda: (answer := deployment.predict("polling", 20))["engine"] == "dask" and answer,
        timeout=120, interval=5, what="a batch computed on the Dask containers",
    )  # fmt: skip
    assert batch["row_count"] == 20 and batch["error_count"] == 0
    with Client(dask_cluster, timeout="10s") as client:
        prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert "predict_partition" in prefixes


def test_a_new_version_reaches_running_containers_without_a_restart(
    deployment: Deployment, notified_app: str, polling_app: str, report: Report
):
    engine = deployment.engine
    before = {name: engine.started_at(name) for name in (notified_app, polling_app)}
    first = deployment.latest()
    second = deployment.publish(fast_config(deployment.workdir, "train-2.yaml", seed=1), report)
    assert second != first
    assert deployment.serving("notified") == first  # it polls once an hour: only a notification moves it

    settings = HandlerSettings((deployment.url("notified", ""),), RELOAD_SECRET.encode(), "registry")
    event = {"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-01-01T00:00:00Z",
                          "s3": {"bucket": {"name": TEST_BUCKET},
                                 "object": {"key": "registry/hotel-rates/LATEST", "sequencer": "01"}}}]}  # fmt: skip
    summary = process_event(event, settings=settings, s3=s3_client(deployment.s3_env), session=requests.Session())
    assert summary["ok"] and summary["notified"] == 1, summary

    for role in ("notified", "polling"):  # every gunicorn worker: several answers in a row
        wait_for(lambda role=role: all(deployment.serving(role) == second for _ in range(6)), timeout=90,
                 what=f"the {role} app to serve {second}")  # fmt: skip
    assert {name: engine.started_at(name) for name in before} == before
    assert deployment.predict("notified", 1)["version"] == second
