"""The Lambda handler on real S3 event JSON, the embedded S3 server, and real HTTP receivers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import boto3
import pytest

from adaptml.registry import Registry
from adaptml.reload import handler as lambda_handler
from adaptml.reload.handler import handler

from .conftest import SECRET, s3_record


@pytest.fixture
def published(storage, bucket) -> Registry:
    registry = Registry(f"s3://{bucket}/registry", "hotel-rates", storage=storage)
    registry.publish("20240501T120000Z-v2", {"models/a.pkl": b"pickle"})
    return registry


def _log_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_several_records_notify_each_latest_once_signed(published, bucket, make_receiver, handler_env, capsys):
    first, second = make_receiver(), make_receiver()
    handler_env([first.url, second.url + "/"])
    latest = s3_record(bucket, "registry/hotel-rates/LATEST", sequencer="0A")
    event = {
        "Records": [
            latest,
            s3_record(bucket, "registry/hotel-rates/versions/20240501T120000Z-v2/models/a.pkl"),
            {**latest, "s3": {**latest["s3"], "object": {**latest["s3"]["object"], "sequencer": "0B"}}},  # duplicate
            {**latest, "s3": {**latest["s3"], "object": {"key": "registry/hotel%2Brates/LATEST"}}},
            s3_record(bucket, "registry/hotel-rates/LATEST", event="ObjectRemoved:Delete"),
            s3_record(bucket, "data/hotel rates.csv"),
        ]
    }

    summary = handler(event, None)

    assert summary == {"records": 6, "notified": 2, "ignored": 3, "duplicates": 1, "failures": [], "ok": True}
    for receiver in (first, second):
        assert [r.path for r in receiver.received] == ["/api/v1/reload", "/api/v1/reload"]
        assert all(r.signed_by(SECRET) for r in receiver.received)
        bodies = [json.loads(r.body) for r in receiver.received]
        assert bodies[0] == {
            "bucket": bucket,
            "key": "registry/hotel-rates/LATEST",
            "project": "hotel-rates",
            "version": "20240501T120000Z-v2",
            "event_time": "2024-05-01T12:00:00.000Z",
            "sequencer": "0A",
        }
        assert bodies[1]["project"] == "hotel+rates" and "version" not in bodies[1]  # no such LATEST to read
    lines = _log_lines(capsys)
    assert [line["outcome"] for line in lines] == ["notified", "ignored", "duplicate", "notified", "ignored", "ignored"]
    assert lines[5]["key"] == "data/hotel rates.csv"
    assert lines[0]["version"] == "20240501T120000Z-v2" and len(lines[0]["deliveries"]) == 2


def test_failing_endpoint_is_retried_then_reported(published, bucket, make_receiver, handler_env, capsys):
    flaky, broken = make_receiver(statuses=[503, 502]), make_receiver(default=500)
    dead = f"http://127.0.0.1:{_dead_port()}"
    handler_env([flaky.url, broken.url, dead], attempts=3)

    summary = handler({"Records": [s3_record(bucket, "registry/hotel-rates/LATEST")]}, None)

    assert len(flaky.received) == 3 and len(broken.received) == 3
    assert summary["ok"] is False and summary["notified"] == 1
    failures = {f["target"]: f for f in summary["failures"]}
    assert set(failures) == {broken.url + "/api/v1/reload", dead + "/api/v1/reload"}
    assert failures[broken.url + "/api/v1/reload"]["status"] == 500
    assert failures[broken.url + "/api/v1/reload"]["attempts"] == 3
    assert "ConnectionError" in failures[dead + "/api/v1/reload"]["error"]
    (line,) = _log_lines(capsys)
    assert line["outcome"] == "failed" and line["level"] == "error"
    assert {d["target"]: d["ok"] for d in line["deliveries"]}[flaky.url + "/api/v1/reload"] is True


def test_a_refusing_endpoint_is_not_retried(published, bucket, make_receiver, handler_env):
    refusing = make_receiver(default=403)
    handler_env([refusing.url], attempts=4)
    summary = handler({"Records": [s3_record(bucket, "registry/hotel-rates/LATEST")]}, None)
    assert len(refusing.received) == 1
    assert summary["failures"][0]["status"] == 403 and summary["failures"][0]["attempts"] == 1


def test_secret_from_an_ssm_secure_string(published, bucket, make_receiver, handler_env, monkeypatch):
    receiver = make_receiver()
    handler_env([receiver.url])
    ssm = boto3.session.Session().client("ssm")
    name = f"/adaptml/{bucket}/reload-secret"
    ssm.put_parameter(Name=name, Value="from-ssm-8c1f2e7a", Type="SecureString")
    monkeypatch.delenv("ADAPTML_RELOAD_SECRET")
    monkeypatch.setenv("ADAPTML_RELOAD_SECRET_PARAM", name)
    lambda_handler.reset_clients()

    assert handler({"Records": [s3_record(bucket, "registry/hotel-rates/LATEST")]}, None)["ok"] is True
    assert receiver.received[0].signed_by(b"from-ssm-8c1f2e7a") and not receiver.received[0].signed_by(SECRET)


def test_no_secret_means_nothing_is_sent(published, bucket, make_receiver, handler_env, monkeypatch):
    receiver = make_receiver()
    handler_env([receiver.url])
    monkeypatch.delenv("ADAPTML_RELOAD_SECRET")
    lambda_handler.reset_clients()
    summary = handler({"Records": [s3_record(bucket, "registry/hotel-rates/LATEST")]}, None)
    assert receiver.received == []
    assert summary["ok"] is False and "refusing to send unsigned" in summary["failures"][0]["error"]


def test_a_missing_ssm_parameter_is_reported_not_raised(handler_env, monkeypatch, capsys):
    handler_env(["http://127.0.0.1:9"])
    monkeypatch.delenv("ADAPTML_RELOAD_SECRET")
    monkeypatch.setenv("ADAPTML_RELOAD_SECRET_PARAM", "/adaptml/does-not-exist")
    lambda_handler.reset_clients()
    summary = handler({"Records": []}, None)
    assert summary["ok"] is False and "/adaptml/does-not-exist" in summary["failures"][0]["error"]
    assert _log_lines(capsys)[0]["level"] == "error"


def test_clients_are_built_once_per_cold_start(published, bucket, make_receiver, handler_env):
    receiver = make_receiver()
    handler_env([receiver.url])
    event = {"Records": [s3_record(bucket, "registry/hotel-rates/LATEST")]}
    handler(event, None)
    runtime = lambda_handler._get_runtime()
    handler(event, None)
    assert lambda_handler._get_runtime() is runtime
    assert len(receiver.received) == 2  # a repeated event is harmless: it is simply delivered again


def test_the_lambda_module_imports_no_data_stack():
    """The Lambda package ships only requests beside the runtime's boto3: the handler must not pull pandas & co."""
    code = (
        "import sys, adaptml.reload.handler; print(sorted({'pandas', 'numpy', 'flask', 'sklearn'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_a_weak_secret_from_ssm_is_refused_not_used(published, bucket, make_receiver, handler_env, monkeypatch):
    receiver = make_receiver()
    handler_env([receiver.url])
    name = f"/adaptml/{bucket}/weak-secret"
    boto3.session.Session().client("ssm").put_parameter(Name=name, Value="secret", Type="SecureString")
    monkeypatch.delenv("ADAPTML_RELOAD_SECRET")
    monkeypatch.setenv("ADAPTML_RELOAD_SECRET_PARAM", name)
    lambda_handler.reset_clients()
    summary = handler({"Records": [s3_record(bucket, "registry/hotel-rates/LATEST")]}, None)
    assert receiver.received == [] and summary["ok"] is False and "published default" in summary["failures"][0]["error"]
