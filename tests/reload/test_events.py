"""Parsing S3 event JSON into LATEST changes: URL-encoded keys, prefixes, envelopes, test events."""

from __future__ import annotations

import json

import pytest

from adaptml.reload.events import parse_event, project_of

from .conftest import s3_record


@pytest.mark.parametrize(
    ("key", "prefix", "project"),
    [
        ("registry/hotel-rates/LATEST", "registry", "hotel-rates"),
        ("registry/hotel-rates/LATEST", "", "hotel-rates"),
        ("a/b/registry/adult/LATEST", "a/b/registry", "adult"),
        ("hotel-rates/LATEST", "", "hotel-rates"),
        ("registry/hotel-rates/versions/v1/manifest.json", "registry", None),
        ("registry/hotel-rates/LATEST.tmp", "registry", None),
        ("registry/LATEST", "registry", None),
        ("other/hotel-rates/LATEST", "registry", None),
        ("registry/x/y/LATEST", "registry", None),
        ("LATEST", "", None),
    ],
)
def test_project_of(key, prefix, project):
    assert project_of(key, prefix) == project


def test_keys_are_url_decoded_with_plus_as_space():
    event = {
        "Records": [
            {
                **s3_record("b", "x"),
                "s3": {"bucket": {"name": "b"}, "object": {"key": "registry/hotel%2Brates/LATEST"}},
            },
            {**s3_record("b", "x"), "s3": {"bucket": {"name": "b"}, "object": {"key": "model+registry/adult/LATEST"}}},
        ]
    }
    first, second = parse_event(event, prefix="registry")
    assert (first.key, first.project, first.relevant) == ("registry/hotel+rates/LATEST", "hotel+rates", True)
    assert (second.key, second.relevant) == ("model registry/adult/LATEST", False)
    assert parse_event(event, prefix="model registry")[1].project == "adult"


def test_only_object_created_counts():
    records = parse_event({"Records": [s3_record("b", "registry/p/LATEST", event="ObjectRemoved:Delete")]})
    assert records[0].ignored == "event ObjectRemoved:Delete is not ObjectCreated"


def test_sqs_and_sns_envelopes_and_test_events_are_unwrapped():
    s3_event = {"Records": [s3_record("b", "registry/p/LATEST")]}
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}
    event = {
        "Records": [
            {"eventSource": "aws:sqs", "body": json.dumps(s3_event)},
            {"eventSource": "aws:sqs", "body": json.dumps(test_event)},
            {"EventSource": "aws:sns", "Sns": {"Message": json.dumps(s3_event)}},
            {"eventSource": "aws:sqs", "body": "not json"},
        ]
    }
    parsed = parse_event(event, prefix="registry")
    assert [r.project for r in parsed] == ["p", None, "p", None]
    assert parsed[1].ignored and parsed[3].ignored
    assert parse_event(test_event)[0].ignored == "S3 test event"


def test_minio_webhook_shape_is_an_s3_event():
    minio = {
        "EventName": "s3:ObjectCreated:Put",
        "Key": "adaptml-demo/registry/hotel-rates/LATEST",
        "Records": [
            {
                "eventVersion": "2.0",
                "eventSource": "minio:s3",
                "eventName": "s3:ObjectCreated:Put",
                "eventTime": "2024-05-01T12:00:00.000Z",
                "s3": {
                    "bucket": {"name": "adaptml-demo"},
                    "object": {"key": "registry%2Fhotel-rates%2FLATEST", "sequencer": "17C3E1"},
                },
            }
        ],
    }
    (record,) = parse_event(minio, prefix="registry")
    assert (record.bucket, record.key, record.project, record.sequencer) == (
        "adaptml-demo",
        "registry/hotel-rates/LATEST",
        "hotel-rates",
        "17C3E1",
    )
