"""The local reload path end to end on the embedded server: publish -> S3 notification -> SQS -> runner -> POST."""

from __future__ import annotations

import json
import threading
import time
import uuid

import boto3
import pytest

from adaptml.registry import Registry
from adaptml.reload.local import NOTIFICATION_ID, configure_notifications, poll_once, run_local

from .conftest import SECRET


@pytest.fixture
def sqs(s3_server):
    return boto3.session.Session().client("sqs")


@pytest.fixture
def queue() -> str:
    return f"reload-{uuid.uuid4().hex[:10]}"


def _drain(sqs, url: str) -> list[dict]:
    """Handle whatever is queued now (e.g. S3's test event) so a test starts from an empty queue."""
    results = []
    while batch := poll_once(sqs, url, wait_seconds=0):
        results.extend(batch)
    return results


def test_configuration_is_idempotent_and_keeps_other_notifications(storage, bucket, sqs, queue):
    other_url = sqs.create_queue(QueueName=f"{queue}-other")["QueueUrl"]
    other_arn = sqs.get_queue_attributes(QueueUrl=other_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    storage.client.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"Id": "other", "QueueArn": other_arn, "Events": ["s3:ObjectRemoved:*"]}]
        },
    )
    first = configure_notifications(storage.client, sqs, bucket, queue, prefix="registry")
    second = configure_notifications(storage.client, sqs, bucket, first, prefix="registry")

    assert first == second
    config = storage.client.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert sorted(q["Id"] for q in config) == sorted(["other", NOTIFICATION_ID])
    ours = next(q for q in config if q["Id"] == NOTIFICATION_ID)
    rules = {r["Name"].lower(): r["Value"] for r in ours["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "registry/", "suffix": "LATEST"}
    assert ours["Events"] == ["s3:ObjectCreated:*"]


def test_publish_reaches_the_endpoint_through_sqs(storage, bucket, sqs, queue, make_receiver, handler_env):
    receiver = make_receiver()
    handler_env([receiver.url])
    url = configure_notifications(storage.client, sqs, bucket, queue, prefix="registry")
    assert all(r["notified"] == 0 for r in _drain(sqs, url))  # S3's s3:TestEvent is ignored

    registry = Registry(f"s3://{bucket}/registry", "hotel-rates", storage=storage)
    registry.publish("v1", {"models/a.pkl": b"one", "schema.json": b"{}"})
    results = poll_once(sqs, url, wait_seconds=5)

    assert [r["notified"] for r in results] == [1]  # only LATEST, not the version's files, was queued
    (post,) = receiver.received
    assert post.signed_by(SECRET)
    body = json.loads(post.body)
    assert (body["bucket"], body["key"], body["project"], body["version"]) == (
        bucket,
        "registry/hotel-rates/LATEST",
        "hotel-rates",
        "v1",
    )
    assert poll_once(sqs, url, wait_seconds=0) == []  # handled messages were deleted


def test_run_local_loop_configures_and_feeds_the_handler(storage, bucket, sqs, queue, make_receiver, handler_env):
    receiver = make_receiver()
    handler_env(["http://127.0.0.1:9"])  # replaced by run_local's targets
    stop = threading.Event()
    lines: list[str] = []

    class Console:
        def print(self, text: str, **_: object) -> None:
            lines.append(text)

    runner = threading.Thread(
        target=run_local,
        args=(queue,),
        kwargs={
            "console": Console(),
            "bucket": bucket,
            "prefix": "registry",
            "targets": [receiver.url],
            "stop": stop,
            "sqs_client": sqs,
            "storage_client": storage.client,
        },
        daemon=True,
    )
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while not any("waiting for S3 notifications" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        Registry(f"s3://{bucket}/registry", "adaptml", storage=storage).publish("v7", {"models/m.pkl": b"m"})
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        runner.join(timeout=10)
    assert not runner.is_alive()
    assert [json.loads(r.body)["version"] for r in receiver.received] == ["v7"]
    assert any("notified=1" in line for line in lines)
