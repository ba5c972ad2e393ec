"""Fault injectors for the reliability tests: an embedded S3 server in its own process (to kill and restart on a
chosen port), and a TCP proxy in front of S3 that can refuse connections or cut them mid-transfer."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from adaptml.s3server import client_environment

__all__ = ["FaultProxy", "S3Process", "wait_until"]


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@dataclass
class S3Process:
    """``adaptml s3 --port PORT`` as a child process: its own memory, so killing it loses everything it held."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Process:
        env = {**os.environ, **client_environment(self.endpoint)}
        command = [sys.executable, "-m", "adaptml.cli", "s3", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _accepts(self.port), 30, what=f"S3 on port {self.port}")
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        wait_until(lambda: not _accepts(self.port), 10, what="the S3 port to close")


@dataclass
class FaultProxy:
    """A loopback TCP proxy to ``target_port``.

    Modes: ``pass`` (forward), ``refuse`` (accept and close at once, as a dead endpoint), ``hang`` (accept and
    never answer), ``cut`` (close each connection after forwarding ``cut_after`` response bytes); and a bandwidth
    cap (``bytes_per_second``) on uploads, to make a publish slow enough to kill midway.
    """

    target_port: int
    mode: str = "pass"
    cut_after: int = 20_000
    bytes_per_second: float | None = None
    connections: int = 0
    port: int = 0
    _server: socket.socket | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _held: list[socket.socket] = field(default_factory=list, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        server.settimeout(0.2)
        self.port, self._server = server.getsockname()[1], server
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.close()
        self.release()

    def release(self) -> None:
        """Close the connections ``hang`` mode is holding (their clients see a reset and retry)."""
        held, self._held = self._held, []
        for client in held:
            client.close()

    def _accept(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            if self.mode == "refuse":
                client.close()
                continue
            if self.mode == "hang":  # accept and say nothing, like an endpoint behind a black hole
                self._held.append(client)
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        except OSError:
            client.close()
            return
        threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
        self._pump(upstream, client, False)

    def _pump(self, source: socket.socket, sink: socket.socket, upload: bool) -> None:
        moved = 0
        try:
            while not self._stop.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if not upload and self.mode == "cut" and moved + len(data) > self.cut_after:
                    sink.sendall(data[: max(0, self.cut_after - moved)])
                    break
                if upload and self.bytes_per_second:
                    time.sleep(len(data) / self.bytes_per_second)
                sink.sendall(data)
                moved += len(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
