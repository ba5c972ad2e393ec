"""A publisher killed midway through publishing: nothing becomes visible, and a rerun completes.

The publisher is a real process calling ``Registry.publish``; its uploads go through a bandwidth-capped proxy so a
large file takes seconds, and it is SIGKILLed once the version's other files are in S3 and the large one is on the
wire. The serving app keeps its version, LATEST and the version list are unchanged, and the same publish run again
(same version id) completes and is picked up. The same is done to a real ``adaptml train`` in its publish stage.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.serving.conftest import Bundle, synthetic_frame

from adaptml.registry import Registry
from adaptml.s3server import EmbeddedS3
from adaptml.storage import Storage

from .faults import FaultProxy, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow]

BIG = "zz_payload.bin"  # sorts after every other file, so it is uploaded last, just before the manifest
PUBLISH = """
import pickle, sys
from adaptml.registry import Registry
bucket, project, version, files_path = sys.argv[1:]
with open(files_path, "rb") as handle:
    files, metadata = pickle.load(handle)
Registry(f"s3://{bucket}/registry", project).publish(version, files, metadata)
print("published", version)
"""


def _publisher(bucket: str, version: str, files_path: Path, endpoint: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint}
    command = [sys.executable, "-c", PUBLISH, bucket, "homes", version, str(files_path)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_a_publisher_killed_midway_leaves_nothing_visible_and_a_rerun_completes(
    s3_server: EmbeddedS3, storage: Storage, bucket: str, regression: Bundle, make_app: Any, tmp_path: Path
):
    registry = Registry(f"s3://{bucket}/registry", "homes", storage=storage)
    registry.publish("v1", regression.files, regression.metadata)
    app = make_app(registry)
    client, store = app.test_client(), app.extensions["adaptml"].store
    files_path = tmp_path / "v2.pickle"
    files_path.write_bytes(pickle.dumps(({**regression.files, BIG: os.urandom(6_000_000)}, regression.metadata)))

    proxy = FaultProxy(s3_server.port, bytes_per_second=1_000_000).start()  # the 6 MB file takes ~6 s
    try:
        publisher = _publisher(bucket, "v2", files_path, proxy.endpoint)
        schema_uri = registry.version_uri("v2").join("schema.json")
        wait_until(lambda: storage.exists(schema_uri), 60, what="the publisher's first files")
        time.sleep(0.5)  # the large file is on the wire now
        assert publisher.poll() is None, publisher.stdout.read() if publisher.stdout else ""
        _kill(publisher)
    finally:
        proxy.stop()

    assert storage.exists(schema_uri), "the killed publisher had uploaded part of v2"
    assert not storage.exists(registry.version_uri("v2").join("manifest.json"))
    assert registry.latest().version == "v1" and registry.versions() == ["v1"]
    assert store.refresh().action == "unchanged"
    answer = client.post("/api/v1/predict", json={"size": 50, "rooms": 2, "city": "paris", "listed": "2023-02-01"})
    assert answer.status_code == 200 and answer.headers["X-Adaptml-Version"] == "v1"

    rerun = _publisher(bucket, "v2", files_path, s3_server.endpoint)
    assert rerun.wait(timeout=120) == 0, rerun.stdout.read() if rerun.stdout else ""
    assert registry.latest().version == "v2" and registry.versions() == ["v1", "v2"]
    assert store.refresh().action == "loaded"
    answer = client.post("/api/v1/predict", json={"size": 50, "rooms": 2, "city": "paris", "listed": "2023-02-01"})
    assert answer.headers["X-Adaptml-Version"] == "v2"


def _train_config(tmp_path: Path, bucket: str, storage: Storage) -> Path:
    frame = synthetic_frame(rows=300, seed=3).drop(columns=["segment"])
    storage.put_bytes(f"s3://{bucket}/data/homes.csv", frame.to_csv(index=False).encode())
    config = {
        "project": "homes",
        "data": {"uri": f"s3://{bucket}/data/homes.csv", "target": "price", "task": "regression"},
        "models": ["ridge", "random_forest"],
        "metric": "rmse",
        "registry": f"s3://{bucket}/registry",
        "tuning": {"cv_folds": 2},
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _train(config: Path, endpoint: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint}
    binary = Path(sys.executable).with_name("adaptml")
    with log.open("ab") as handle:
        return subprocess.Popen([str(binary), "train", str(config)], env=env, stdout=handle, stderr=subprocess.STDOUT)


def test_a_real_training_run_killed_while_publishing_leaves_nothing_visible_and_a_rerun_completes(
    s3_server: EmbeddedS3, storage: Storage, bucket: str, tmp_path: Path
):
    registry = Registry(f"s3://{bucket}/registry", "homes", storage=storage)
    config = _train_config(tmp_path, bucket, storage)
    log = tmp_path / "train.log"
    proxy = FaultProxy(s3_server.port).start()
    try:
        training = _train(config, proxy.endpoint, log)
        versions_prefix = f"{registry.project_uri.join('versions')}/"
        wait_until(
            lambda: bool(storage.list(versions_prefix)) or training.poll() is not None,
            600,
            interval=0.01,
            what="the publish stage",
        )
        proxy.bytes_per_second = 20_000  # slow the rest of the publish down, then kill it midway
        assert training.poll() is None, log.read_text()[-3000:]
        time.sleep(0.3)
        _kill(training)
    finally:
        proxy.stop()
    assert storage.list(versions_prefix), "the run had started publishing"
    assert registry.versions() == [] and not storage.exists(registry.latest_uri)

    rerun = _train(config, s3_server.endpoint, log)
    assert rerun.wait(timeout=600) == 0, log.read_text()[-3000:]
    [version] = registry.versions()
    assert registry.latest().version == version
    loaded = registry.load()
    assert any(path.startswith("models/") for path in loaded.files)
