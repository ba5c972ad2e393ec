"""The reload Lambda, run locally: the bucket notifies an SQS queue on the embedded server; this loop feeds the handler.

``configure_notifications`` points the bucket's ``ObjectCreated`` events for ``LATEST`` keys at the queue
(idempotently, keeping any other notification the bucket has); ``run_local`` long-polls the queue and calls the
same ``handler`` the Lambda runs with each message's S3 event, deleting each message once handled.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from adaptml.errors import StorageError
from adaptml.reload import handler as lambda_handler
from adaptml.reload.events import LATEST_NAME

__all__ = ["NOTIFICATION_ID", "configure_notifications", "poll_once", "queue_url_of", "run_local"]

NOTIFICATION_ID = "adaptml-reload"
Invoke = Callable[[Mapping[str, Any], Any], dict[str, Any]]


def queue_url_of(sqs_client: Any, queue: str) -> str:
    """The URL of ``queue`` (a URL is kept; a name is created if missing — CreateQueue is idempotent)."""
    if queue.startswith(("http://", "https://")):
        return queue
    return str(sqs_client.create_queue(QueueName=queue)["QueueUrl"])


def configure_notifications(storage_client: Any, sqs_client: Any, bucket: str, queue: str, *, prefix: str = "") -> str:
    """Send ``bucket``'s ObjectCreated events for ``[prefix/]...LATEST`` keys to ``queue``; returns the queue URL.

    Idempotent: our configuration (id ``adaptml-reload``) is replaced, the bucket's other ones are kept.
    """
    url = queue_url_of(sqs_client, queue)
    arn = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
            }
        ],
    }
    sqs_client.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    current = storage_client.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    queues = [q for q in current.get("QueueConfigurations", []) if q.get("Id") != NOTIFICATION_ID]
    rules = [{"Name": "suffix", "Value": LATEST_NAME}]
    if prefix.strip("/"):
        rules.insert(0, {"Name": "prefix", "Value": prefix.strip("/") + "/"})
    queues.append(
        {
            "Id": NOTIFICATION_ID,
            "QueueArn": arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": rules}},
        }
    )
    storage_client.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={**current, "QueueConfigurations": queues}
    )
    return url


def poll_once(
    sqs_client: Any, queue_url: str, *, wait_seconds: int = 5, invoke: Invoke | None = None
) -> list[dict[str, Any]]:
    """Receive up to 10 messages (long poll), hand each S3 event to the handler, delete it; the handlers' results."""
    invoke = invoke or lambda_handler.handler
    response = sqs_client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
    results = []
    for message in response.get("Messages", []):
        try:
            event = json.loads(message["Body"])
        except ValueError:
            event = {}  # a poison message: nothing to act on, delete it below
        results.append(invoke(event if isinstance(event, dict) else {}, None))
        sqs_client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return results


def run_local(
    queue: str,
    *,
    console: Any = None,
    bucket: str | None = None,
    prefix: str = "",
    targets: Sequence[str] = (),
    stop: threading.Event | None = None,
    sqs_client: Any = None,
    storage_client: Any = None,
) -> None:
    """Feed the handler from ``queue`` until ``stop`` is set or Ctrl-C; configures ``bucket`` first when given."""
    from adaptml.storage import default_client

    if targets:
        os.environ[lambda_handler.TARGETS_ENV] = ",".join(targets)  # the handler reads its targets from the env
        lambda_handler.reset_clients()
    sqs = sqs_client or _default_sqs_client()
    try:
        if bucket:
            url = configure_notifications(storage_client or default_client(), sqs, bucket, queue, prefix=prefix)
        else:
            url = queue_url_of(sqs, queue)
    except BotoCoreError as error:
        raise StorageError(f"cannot set up the notification queue {queue!r}: {error}") from error
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise StorageError(f"cannot set up notifications of bucket {bucket!r} to queue {queue!r}: {code}") from error

    def say(text: str) -> None:
        if console is not None:
            console.print(text, markup=False, highlight=False)
        else:
            print(text, flush=True)

    say(f"reload runner: waiting for S3 notifications on {url} (Ctrl-C to stop)")
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            for result in poll_once(sqs, url, wait_seconds=2):
                say(_summary_line(result))
    except KeyboardInterrupt:
        say("reload runner stopped")


def _summary_line(result: Mapping[str, Any]) -> str:
    failures = result.get("failures") or []
    text = (
        f"records={result.get('records', 0)} notified={result.get('notified', 0)} "
        f"ignored={result.get('ignored', 0)} duplicates={result.get('duplicates', 0)} failures={len(failures)}"
    )
    return text + "".join(f"\n  failed: {f.get('target', '')} {f.get('error', '')}" for f in failures)


def _default_sqs_client() -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    # The read timeout must outlast the long poll.
    return boto3.session.Session().client("sqs", config=BotoConfig(connect_timeout=3, read_timeout=30))
