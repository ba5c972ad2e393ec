"""The embedded S3-compatible server: moto's server mode on a real HTTP port."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["EmbeddedS3", "client_environment", "free_port", "running_s3"]

DEFAULT_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "adaptml",
    "AWS_SECRET_ACCESS_KEY": "adaptml-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def client_environment(endpoint: str) -> dict[str, str]:
    """The variables a boto3 client (or luigi, or the AWS CLI) needs to use the embedded server."""
    return {"AWS_ENDPOINT_URL": endpoint, **DEFAULT_CREDENTIALS}


@dataclass
class EmbeddedS3:
    """A moto server (S3, SQS and the rest of moto's services) on ``host:port``, in a thread."""

    host: str = "127.0.0.1"
    port: int = 9000

    def __post_init__(self) -> None:
        self._server: object | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmbeddedS3:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as error:  # moto is the `demo` extra; the runtime images leave it out
            raise RuntimeError(
                "the embedded S3 server needs moto: pip install 'adaptml[demo]' (or point AWS_ENDPOINT_URL at S3)"
            ) from error

        # werkzeug logs every S3 request of the embedded server at INFO: keep the terminal readable
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        if self.port == 0:
            self.port = free_port(self.host)
        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None


@contextmanager
def running_s3(host: str = "127.0.0.1", port: int = 0, *, export: bool = False) -> Iterator[EmbeddedS3]:
    """Run the embedded server for the duration of a block; optionally export its client environment."""
    server = EmbeddedS3(host, port).start()
    saved = {key: os.environ.get(key) for key in client_environment(server.endpoint)}
    if export:
        os.environ.update(client_environment(server.endpoint))
    try:
        yield server
    finally:
        server.stop()
        if export:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
