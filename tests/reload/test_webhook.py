"""The MinIO webhook front: MinIO's S3-event POST -> the same Lambda handler -> a signed POST to the app."""

from __future__ import annotations

import json

import pytest

from adaptml.registry import Registry
from adaptml.reload.webhook import create_webhook_app

from .conftest import SECRET


def _minio_event(bucket: str, key: str) -> dict:
    """What MinIO's webhook target sends for a PUT (the key URL-encoded, as MinIO does)."""
    return {
        "EventName": "s3:ObjectCreated:Put",
        "Key": f"{bucket}/{key}",
        "Records": [
            {
                "eventVersion": "2.0",
                "eventSource": "minio:s3",
                "awsRegion": "",
                "eventTime": "2024-05-01T12:00:00.000Z",
                "eventName": "s3:ObjectCreated:Put",
                "userIdentity": {"principalId": "minioadmin"},
                "requestParameters": {"region": "", "sourceIPAddress": "172.18.0.5"},
                "responseElements": {"x-amz-request-id": "17C3E1", "x-minio-origin-endpoint": "http://minio:9000"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "Config",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "minioadmin"}, "arn": "arn:aws:s3:::b"},
                    "object": {"key": key.replace("/", "%2F"), "size": 70, "eTag": "abc", "sequencer": "17C3E1A"},
                },
                "source": {"host": "172.18.0.5", "port": "", "userAgent": "MinIO (linux; amd64)"},
            }
        ],
    }


@pytest.fixture
def published(storage, bucket) -> Registry:
    registry = Registry(f"s3://{bucket}/registry", "hotel-rates", storage=storage)
    registry.publish("v3", {"models/a.pkl": b"a"})
    return registry


def test_minio_event_is_handled_and_forwarded(published, bucket, make_receiver, handler_env):
    receiver = make_receiver()
    handler_env([receiver.url])
    client = create_webhook_app(token="").test_client()

    response = client.post("/", json=_minio_event(bucket, "registry/hotel-rates/LATEST"))

    assert response.status_code == 200 and response.get_json()["notified"] == 1
    (post,) = receiver.received
    assert post.signed_by(SECRET) and json.loads(post.body)["version"] == "v3"
    assert client.get("/healthz").status_code == 200
    assert client.head("/").status_code == 200  # MinIO's reachability probe


def test_token_and_body_are_checked(published, bucket, make_receiver, handler_env):
    receiver = make_receiver()
    handler_env([receiver.url])
    client = create_webhook_app(token="s3cret").test_client()
    event = _minio_event(bucket, "registry/hotel-rates/LATEST")

    assert client.post("/", json=event).status_code == 401
    assert client.post("/", json=event, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/", data="[]", headers={"Authorization": "Bearer s3cret"}).status_code == 400
    assert client.post("/events", json=event, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert len(receiver.received) == 1
