"""The entry points' side of signing: ``adaptml predict`` without a verify key, weak keys and secrets.

Real subprocesses of the CLI against the embedded S3 server; the versions carry payload pickles, and the marker
they would write never appears.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.security.conftest import payload_files

from adaptml.errors import ConfigError
from adaptml.registry import Registry
from adaptml.serving.settings import Environment
from adaptml.signing import INSECURE_ENV, SIGNING_KEY_ENV, VERIFY_KEY_ENV, Keys, env_values

CLEARED = (SIGNING_KEY_ENV, VERIFY_KEY_ENV, INSECURE_ENV)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return subprocess.run(
        [sys.executable, "-m", "adaptml.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**base, **(env or {})},
    )


def config_for(registry: Registry, path: Path) -> Path:
    data = {"uri": f"s3://{registry.root.bucket}/data/homes.csv", "target": "price"}
    path.write_text(yaml.safe_dump({"project": registry.project, "data": data, "registry": str(registry.root)}))
    return path


def records(bundle, path: Path) -> Path:
    bundle.features.head(3).to_csv(path, index=False)
    return path


def test_predict_without_a_verify_key_refuses_an_unsigned_version(intruder, bundle, tmp_path):
    marker = tmp_path / "pwned"
    intruder.publish("v1", payload_files(bundle, marker), bundle.metadata)
    result = cli("predict", str(config_for(intruder, tmp_path / "c.yaml")), str(records(bundle, tmp_path / "in.csv")))
    assert result.returncode == 1 and "--insecure-unsigned" in result.stderr, result.stderr
    assert not marker.exists()


def test_predict_with_the_verify_key_refuses_an_unsigned_version(intruder, keys, bundle, tmp_path):
    marker = tmp_path / "pwned"
    intruder.publish("v1", payload_files(bundle, marker), bundle.metadata)
    env = {VERIFY_KEY_ENV: env_values(keys)[VERIFY_KEY_ENV]}
    result = cli(
        "predict", str(config_for(intruder, tmp_path / "c.yaml")), str(records(bundle, tmp_path / "in.csv")), env=env
    )
    assert result.returncode == 1 and "LATEST is not signed" in result.stderr, result.stderr
    assert not marker.exists()


def test_predict_verifies_a_signed_version_and_insecure_mode_is_loud(publisher, intruder, keys, bundle, tmp_path):
    config, source = config_for(publisher, tmp_path / "c.yaml"), records(bundle, tmp_path / "in.csv")
    publisher.publish("v1", bundle.files, bundle.metadata)
    signed = cli("predict", str(config), str(source), env={VERIFY_KEY_ENV: env_values(keys)[VERIFY_KEY_ENV]})
    assert signed.returncode == 0 and "INSECURE" not in signed.stderr, signed.stderr
    intruder.publish("v2", bundle.files, bundle.metadata)
    insecure = cli("predict", str(config), str(source), "--insecure-unsigned")
    assert insecure.returncode == 0 and "INSECURE" in insecure.stderr, insecure.stderr


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "value",
    ["mine", "publisher-signing-key", _b64(b"a" * 32), _b64(bytes(range(4)) * 8), _b64(b"short"), "-----BEGIN junk"],
)
def test_weak_or_malformed_keys_are_refused(value):
    for name in (SIGNING_KEY_ENV, VERIFY_KEY_ENV):
        with pytest.raises(ConfigError, match=name):
            Keys.from_environ({name: value})


def test_a_verify_key_that_is_not_the_signing_keys_half_is_refused():
    mismatched = {**env_values(Keys.generate()), VERIFY_KEY_ENV: env_values(Keys.generate())[VERIFY_KEY_ENV]}
    with pytest.raises(ConfigError, match="not the public half"):
        Keys.from_environ(mismatched)


def test_an_old_hmac_secret_neither_starts_predict_nor_loads_its_version(storage, bucket, bundle, tmp_path):
    """The old scheme's guessable secret: a version "signed" with it is never loaded, the key is refused at start."""
    marker = tmp_path / "pwned"
    registry = Registry(f"s3://{bucket}/registry", "homes", storage=storage)
    registry.publish("v1", payload_files(bundle, marker), bundle.metadata)
    uri = registry.version_uri("v1").join("manifest.json")
    manifest = json.loads(storage.get_bytes(uri))
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest["signature"] = hmac.new(b"mine", body, hashlib.sha256).hexdigest()
    storage.put_bytes(uri, json.dumps(manifest).encode())
    config, source = config_for(registry, tmp_path / "c.yaml"), records(bundle, tmp_path / "in.csv")
    result = cli("predict", str(config), str(source), env={SIGNING_KEY_ENV: "mine"})
    assert result.returncode == 1 and SIGNING_KEY_ENV in result.stderr and len(result.stderr.splitlines()) == 1
    assert not marker.exists()


@pytest.mark.parametrize("secret", ["secret", "compose-demo-reload-secret", "aaaaaaaaaaaaaaaaaaaaaaaa", "short-1"])
def test_a_weak_reload_secret_disables_the_reload_endpoint(secret):
    assert Environment.read({"ADAPTML_RELOAD_SECRET": secret}).reload_secret is None
    assert Environment.read({"ADAPTML_RELOAD_SECRET": "f3a9c1d27be84e6a"}).reload_secret == b"f3a9c1d27be84e6a"
