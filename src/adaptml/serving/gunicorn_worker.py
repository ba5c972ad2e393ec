"""gunicorn's ``gthread`` worker with a deadline for reading each request, so a slow client cannot keep a thread.

gthread reads a request's headers and body on a blocking socket without a time limit: a client that sends one
byte every second holds a thread for as long as it likes. Here the headers must arrive within
``HEADER_SECONDS`` of the request's first byte, and the body at ``MIN_BODY_BYTES_PER_SECOND`` at least (plus the
same grace); past that, reads see the end of the stream, as if the client had hung up: the connection is closed
(a half-read body is werkzeug's 400) and the thread goes back to the pool.

A kept-alive connection whose next request arrives within ``LINGER_SECONDS`` of the answer is served by the same
thread: gthread would hand it back to the event loop, which wakes, registers it, wakes again when it is readable and
submits it to the pool, two thread hand-offs that cost more than a one-record prediction on a busy host. A client
that sends nothing that soon is handed back as before; the next request still gets its header and body deadlines.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from typing import Any

from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

__all__ = ["DeadlineThreadWorker"]

HEADER_SECONDS = 10.0
MIN_BODY_BYTES_PER_SECOND = 256 * 1024
UNKNOWN_LENGTH_SECONDS = 60.0  # a chunked body
LINGER_SECONDS = 0.005  # how long a thread waits on a kept-alive connection for its next request before handing it back


class _DeadlineSocket:
    """The socket as the request parser sees it: every ``recv`` must finish by ``deadline``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.deadline = time.monotonic() + HEADER_SECONDS

    def recv(self, size: int) -> bytes:
        """The bytes received, or b"" (as if the client had hung up) once the deadline has passed."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return b""
        prior = self._sock.gettimeout()
        self._sock.settimeout(remaining if prior is None else min(prior, remaining))
        try:
            return self._sock.recv(size)
        except TimeoutError:
            return b""
        finally:
            self._sock.settimeout(prior)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _DeadlineConn(TConn):
    def init(self) -> None:
        super().init()
        unreader = getattr(self.parser, "unreader", None)
        if isinstance(unreader, SocketUnreader) and not isinstance(unreader.sock, _DeadlineSocket):
            unreader.sock = _DeadlineSocket(unreader.sock)

    def restart_deadline(self, seconds: float) -> None:
        sock = getattr(getattr(self.parser, "unreader", None), "sock", None)
        if isinstance(sock, _DeadlineSocket):
            sock.deadline = time.monotonic() + seconds


def _next_request_soon(conn: Any) -> bool:
    """Whether the kept-alive connection has bytes to read (its next request, or its close) within the linger."""
    if conn.parser is not None and conn.parser.unreader.buf.getvalue():
        return True  # already read ahead
    try:
        readable, _, _ = select.select([conn.sock], [], [], LINGER_SECONDS)
    except (OSError, ValueError):  # closed meanwhile
        return False
    return bool(readable)


class DeadlineThreadWorker(ThreadWorker):
    """``gthread`` whose connections must send headers in time and their body at a minimum rate."""

    def accept(self, listener: socket.socket) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as error:  # as gthread's own accept: a client that gave up first is no error
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        client_sock.setblocking(True)
        self.enqueue_req(_DeadlineConn(self.cfg, client_sock, client_addr, listener.getsockname()))

    def handle(self, conn: Any) -> Any:
        """Serve the connection's request, then, while it is kept alive, each next request that arrives within
        ``LINGER_SECONDS`` of the answer, in this thread (see the module's docstring)."""
        while True:
            if isinstance(conn, _DeadlineConn):
                conn.restart_deadline(HEADER_SECONDS)  # a kept-alive connection's next request starts now
            kept = super().handle(conn)
            if kept is not True or not self.alive or not _next_request_soon(conn):
                return kept

    def handle_request(self, req: Any, conn: Any) -> Any:
        """The headers are in: the body gets the grace plus the time its length needs at the minimum rate."""
        if isinstance(conn, _DeadlineConn):
            length = next((value for name, value in req.headers if name == "CONTENT-LENGTH"), "")
            body = int(length) / MIN_BODY_BYTES_PER_SECOND if length.isdigit() else UNKNOWN_LENGTH_SECONDS
            conn.restart_deadline(HEADER_SECONDS + body)
        return super().handle_request(req, conn)
