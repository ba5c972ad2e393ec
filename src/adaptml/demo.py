"""``adaptml demo``: the whole system on one machine — embedded S3, seeded data, a trained version, the web app,
and the reload path (S3 notification -> SQS -> the Lambda handler -> the app), until Ctrl-C. Signed, like
production: a fresh key pair per run unless ``ADAPTML_SIGNING_KEY`` is set."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

from adaptml.config import load_config
from adaptml.datasets import seed
from adaptml.s3server import client_environment, running_s3
from adaptml.storage import S3Uri

__all__ = ["run_demo"]

RELOAD_QUEUE = "adaptml-reload"


def run_demo(config_path: Path, *, port: int = 8000, s3_port: int = 9000, console: Console | None = None) -> None:
    """Run every part of adaptml against the embedded S3 server; retraining in another shell reloads the app."""
    from adaptml.pipeline.runner import train_command
    from adaptml.reload.handler import TARGETS_ENV
    from adaptml.reload.local import run_local
    from adaptml.reload.signing import SECRET_ENV
    from adaptml.serving.server import serve_command
    from adaptml.serving.settings import Environment
    from adaptml.signing import Keys

    console = console or Console()
    cfg = load_config(config_path)
    registry = S3Uri.parse(cfg.registry)
    with running_s3(port=s3_port, export=True) as s3:
        # The in-process Lambda handler reads its settings from the environment, as in AWS; the app gets them below.
        os.environ.setdefault(SECRET_ENV, secrets.token_hex(32))
        os.environ[TARGETS_ENV] = f"http://127.0.0.1:{port}"
        demo_keys = _signing_environment(os.environ)
        os.environ.update(demo_keys)
        environment = Environment.read(os.environ)
        console.rule("embedded S3")
        console.print(f"S3 endpoint {s3.endpoint}; to use it from another shell (e.g. to retrain):", highlight=False)
        for key, value in {**client_environment(s3.endpoint), **demo_keys}.items():
            console.print(f"  export {key}={value}", highlight=False)
        for other in sorted(Path(config_path).resolve().parent.glob("*.yaml")):
            _seed_quietly(other, console)
        console.rule(f"training {cfg.project}")
        train_command(cfg, keys=Keys.from_environ(demo_keys), workers=2, scheduler_url=None, console=console)
        # Started after the first publish: the app loads that version at start, so only later ones need notifying.
        stop = threading.Event()
        runner = threading.Thread(
            target=run_local,
            kwargs={"queue": RELOAD_QUEUE, "bucket": registry.bucket, "prefix": registry.key, "stop": stop},
            name="adaptml-lambda-local",
            daemon=True,
        )
        runner.start()
        console.rule("serving")
        console.print(f"retrain with: adaptml train {config_path}  (a changed config publishes a new version)")
        try:
            serve_command(cfg, environment, host="127.0.0.1", port=port, console=console)
        finally:
            stop.set()
            runner.join(timeout=5)


def _signing_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """A key pair for this demo run (the versions it publishes are signed, the app verifies them), unless the
    environment already names a signing key."""
    from adaptml.signing import SIGNING_KEY_ENV, Keys, env_values

    if environ.get(SIGNING_KEY_ENV):
        return {}
    return env_values(Keys.generate())


def _seed_quietly(config_path: Path, console: Console) -> None:
    """Upload the bundled dataset that a config names, if it names one."""
    try:
        uri = seed(load_config(config_path).data.uri)
    except Exception as error:  # noqa: BLE001 - a config for a non-bundled dataset is simply skipped
        console.print(f"  skipped {config_path.name}: {error}", highlight=False)
    else:
        console.print(f"  seeded {uri}", highlight=False)
