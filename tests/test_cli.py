"""The CLI as a user runs it: a real subprocess, exit codes and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from adaptml.s3server import client_environment, free_port


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adaptml.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_s3_command_serves_plain_boto3_and_stops_on_ctrl_c():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "adaptml.cli", "s3", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client("s3", endpoint_url=endpoint, **_keys())
        deadline = time.time() + 30
        while True:
            try:
                client.create_bucket(Bucket="cli")
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        client.put_object(Bucket="cli", Key="k", Body=b"v")
        assert client.get_object(Bucket="cli", Key="k")["Body"].read() == b"v"
        assert client.head_object(Bucket="cli", Key="k")["ETag"]
        assert [o["Key"] for o in client.list_objects_v2(Bucket="cli")["Contents"]] == ["k"]
    finally:
        proc.send_signal(2)  # Ctrl-C
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"export AWS_ENDPOINT_URL={endpoint}" in out
    assert "stopping embedded S3" in out


def _keys() -> dict[str, str]:
    env = client_environment("x")
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }


def _config(tmp_path: Path, uri: str, extra: str = "") -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(f"project: p\ndata: {{uri: {uri}, target: y}}\nregistry: s3://b/r\n{extra}")
    return path


def _assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [("colour: red\n", "unknown key 'colour'"), ("split: {test_size: big}\n", "'split.test_size'")],
)
def test_bad_config_exits_non_zero(tmp_path, extra, fragment):
    result = run_cli("seed", str(_config(tmp_path, "s3://b/hotel_rates.csv.gz", extra)))
    _assert_one_line_error(result, fragment)


def test_missing_config_file(tmp_path):
    result = run_cli("seed", str(tmp_path / "missing.yaml"))
    _assert_one_line_error(result, "config file not found")


def test_seed_into_missing_bucket_then_read(s3_server, storage, tmp_path):
    result = run_cli("seed", str(_config(tmp_path, "s3://seeded/data/adult.csv.gz")))
    assert result.returncode == 0, result.stderr
    assert storage.exists("s3://seeded/data/adult.csv.gz")


def test_unreachable_endpoint(tmp_path):
    env = {**client_environment(f"http://127.0.0.1:{free_port()}")}
    result = run_cli("seed", str(_config(tmp_path, "s3://b/adult.csv.gz")), env=env)
    _assert_one_line_error(result, "S3 endpoint unreachable")


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("adaptml ")


def test_inspect_reads_dataset(s3_server, tmp_path):
    assert run_cli("seed", str(_config(tmp_path, "s3://inspected/data/adult.csv.gz"))).returncode == 0
    result = run_cli("inspect", str(_config(tmp_path, "s3://inspected/data/adult.csv.gz")))
    assert result.returncode == 0, result.stderr
    assert "32,561 rows x 15 columns" in result.stdout


def test_missing_bucket(s3_server, tmp_path):
    result = run_cli("inspect", str(_config(tmp_path, "s3://no-such-bucket-cli/data.csv")))
    _assert_one_line_error(result, "bucket not found: no-such-bucket-cli")


def test_missing_key(s3_server, storage, tmp_path):
    storage.ensure_bucket("present-bucket")
    result = run_cli("inspect", str(_config(tmp_path, "s3://present-bucket/absent.csv")))
    _assert_one_line_error(result, "object not found: s3://present-bucket/absent.csv")


def test_keygen_prints_a_pair_and_writes_owner_only_files(tmp_path):
    from adaptml.signing import SIGNING_KEY_ENV, VERIFY_KEY_ENV, Keys

    private, public = tmp_path / "signing.pem", tmp_path / "verify.pem"
    result = run_cli("keygen", "--private-file", str(private), "--public-file", str(public))
    assert result.returncode == 0, result.stderr
    exported = dict(line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines())
    keys = Keys.from_environ(exported)
    assert keys.can_sign and set(exported) == {SIGNING_KEY_ENV, VERIFY_KEY_ENV}
    assert {oct(path.stat().st_mode & 0o777) for path in (private, public)} == {"0o600"}
    from_files = Keys.from_environ({SIGNING_KEY_ENV: private.read_text(), VERIFY_KEY_ENV: public.read_text()})
    assert from_files.key_id == keys.key_id  # the files hold the pair printed
    again = run_cli("keygen", "--private-file", str(private), "--public-file", str(public))
    _assert_one_line_error(again, "exists already")


def test_versions_lists_every_version_and_promote_makes_an_older_one_live(storage, bucket, tmp_path):
    from adaptml.registry import Registry
    from adaptml.signing import Keys, env_values

    keys = Keys.generate()
    registry = Registry(f"s3://{bucket}/registry", "homes", storage=storage, keys=keys)
    board = {"metric": "rmse", "leaderboard": [{"rank": 1, "model": "ridge", "rmse": 1.5}]}
    registry.publish("v1", {"models/ridge.pkl": b"x"}, board)
    registry.publish("v2", {"models/ridge.pkl": b"y"}, board)
    config = tmp_path / "homes.yaml"
    config.write_text(
        f"project: homes\ndata: {{uri: 's3://{bucket}/d.csv', target: price}}\nregistry: s3://{bucket}/registry\n"
    )
    reader_env = {"ADAPTML_VERIFY_KEY": env_values(keys)["ADAPTML_VERIFY_KEY"]}
    listing = run_cli("versions", str(config), env=reader_env)
    assert listing.returncode == 0, listing.stderr
    lines = {line.split()[1]: line for line in listing.stdout.splitlines() if " v1 " in line or " v2 " in line}
    assert "live" in lines["v2"] and "live" not in lines["v1"] and "verified" in lines["v1"]
    assert "ridge" in lines["v1"] and "rmse 1.5" in lines["v1"]
    refused = run_cli("promote", str(config), "v1", env=reader_env)
    _assert_one_line_error(refused, "private key")
    promoted = run_cli("promote", str(config), "v1", env=env_values(keys))
    assert promoted.returncode == 0 and "promoted v1" in promoted.stdout, promoted.stderr
    assert registry.latest().version == "v1" and registry.latest().promoted
    unknown = run_cli("promote", str(config), "v7", env=env_values(keys))
    _assert_one_line_error(unknown, "object not found")
