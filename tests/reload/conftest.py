"""Fixtures for the reload path: a real HTTP receiver standing in for a serving app, and S3 event JSON."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import pytest
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from adaptml.reload import handler as lambda_handler
from adaptml.reload.signing import SIGNATURE_HEADER, verify_signature

SECRET = b"test-reload-secret"


@dataclass
class Received:
    path: str
    signature: str | None
    body: bytes

    def signed_by(self, secret: bytes) -> bool:
        return self.signature is not None and verify_signature(secret, self.body, self.signature)


@dataclass
class Receiver:
    """A real HTTP server on loopback that records every POST and answers with scripted status codes."""

    statuses: list[int] = field(default_factory=list)  # consumed one per request; then ``default``
    default: int = 202
    received: list[Received] = field(default_factory=list)
    server: BaseWSGIServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        self.received.append(Received(request.path, request.headers.get(SIGNATURE_HEADER), request.get_data()))
        status = self.statuses.pop(0) if self.statuses else self.default
        return Response('{"ok": true}', status=status, mimetype="application/json")(environ, start_response)


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    servers: list[BaseWSGIServer] = []

    def start(statuses: list[int] | None = None, default: int = 202) -> Receiver:
        receiver = Receiver(list(statuses or []), default)
        receiver.server = make_server("127.0.0.1", 0, receiver, threaded=True)
        threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
        servers.append(receiver.server)
        return receiver

    yield start
    for server in servers:
        server.shutdown()


@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch, s3_server: Any) -> Iterator[Callable[..., None]]:
    """Configure the Lambda's environment for one test; the handler's cold-start cache is reset around it."""

    def configure(targets: list[str], *, prefix: str = "registry", attempts: int = 3, secret: bytes = SECRET) -> None:
        monkeypatch.setenv("ADAPTML_RELOAD_TARGETS", ",".join(targets))
        monkeypatch.setenv("ADAPTML_REGISTRY_PREFIX", prefix)
        monkeypatch.setenv("ADAPTML_RELOAD_ATTEMPTS", str(attempts))
        monkeypatch.setenv("ADAPTML_RELOAD_SECRET", secret.decode())
        monkeypatch.delenv("ADAPTML_RELOAD_SECRET_PARAM", raising=False)
        lambda_handler.reset_clients()

    yield configure
    lambda_handler.reset_clients()


def s3_record(
    bucket: str, key: str, *, event: str = "ObjectCreated:Put", sequencer: str = "0055AED6DCD90281E5"
) -> dict:
    """One record exactly as AWS delivers it to a Lambda (the key URL-encoded, spaces as '+')."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2024-05-01T12:00:00.000Z",
        "eventName": event,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.10"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5W",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "adaptml-reload",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": 64,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "sequencer": sequencer,
            },
        },
    }
