"""gunicorn settings for the web app, so that slow clients cannot stop it.

    gunicorn --config python:adaptml.serving.gunicorn_conf --bind 0.0.0.0:8000 adaptml.serving.wsgi:app

Sync workers hold a whole process per connection: two clients sending a byte at a time stopped the sync setup for
37 s and got both workers killed by the heartbeat timeout. ``gthread`` workers wait for a connection's first bytes
in their event loop, not in a thread, give each request a thread of their pool, and keep heartbeating while a thread
waits on a slow client, so N slow clients hold at most N of ``workers x threads`` threads and nothing is restarted;
``gunicorn_worker.DeadlineThreadWorker`` also gives each request ``HEADER_SECONDS`` for its headers and a minimum
rate for its body, so a dribbling client loses its thread. Against many more, put a buffering reverse proxy in
front (deploy/REVERSE_PROXY.md). Command-line options and
``GUNICORN_CMD_ARGS`` override these values; ``WEB_CONCURRENCY`` sets the worker count.

Every worker must share the results and reload directories: when neither ``ADAPTML_RESULTS_DIR``/
``ADAPTML_RUNTIME_DIR`` nor ``XDG_RUNTIME_DIR`` names one, the master makes private ones (0700) before forking and
removes them on exit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

wsgi_app = "adaptml.serving.wsgi:app"
# In a container PORT is set and every interface is bound (the container network is the boundary); else loopback.
bind = [f"0.0.0.0:{os.environ['PORT']}"] if os.environ.get("PORT") else ["127.0.0.1:8000"]
worker_class = "adaptml.serving.gunicorn_worker.DeadlineThreadWorker"  # gthread, plus read deadlines
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 16  # per worker: how many slow or long requests one worker absorbs while still answering probes
worker_connections = 256  # open connections per worker, kept-alive ones included
backlog = 512
timeout = 120  # heartbeat: a worker whose event loop is stuck this long is replaced
graceful_timeout = 30  # on SIGTERM or reload, in-flight requests get this long to finish
keepalive = 5  # seconds an idle connection is kept; a slow client's pending connection is dropped after it too
limit_request_line = 4094
limit_request_fields = 64
limit_request_field_size = 8190
forwarded_allow_ips = "127.0.0.1"  # trust X-Forwarded-* only from a proxy on the same host
accesslog = "-"

_made: list[str] = []
_SHARED_DIRS = (("ADAPTML_RESULTS_DIR", "results"), ("ADAPTML_RUNTIME_DIR", "runtime"))


def on_starting(server: Any) -> None:
    """Before forking: private shared directories for the workers, unless the environment names them."""
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    for variable, purpose in _SHARED_DIRS:
        if not os.environ.get(variable):
            os.environ[variable] = tempfile.mkdtemp(prefix=f"adaptml-{purpose}-")
            _made.append(os.environ[variable])


def on_exit(server: Any) -> None:
    for directory in _made:
        shutil.rmtree(directory, ignore_errors=True)
