"""A thin driver for the container engine (`docker`, or `podman` where docker is absent) used by the image tests.

Every call is the engine's own command line, so what the tests do is what a user would type.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .manifests import ROOT

DEFAULT_PYTHON_IMAGE = "python:3.11-slim-bookworm"
IMAGE_TAGS = {"pipeline": "adaptml-pipeline:local", "app": "adaptml-app:local", "demo": "adaptml-demo:local"}


def find_engine() -> Engine | None:
    """``$CONTAINER_ENGINE`` when set, else docker when its daemon answers, else podman; None when none works."""
    chosen = os.environ.get("CONTAINER_ENGINE")
    for program in [chosen] if chosen else ["docker", "podman"]:
        path = shutil.which(program)
        if path and _answers(path):
            return Engine(path)
    return None


def _answers(path: str) -> bool:
    """A docker client without a daemon is installed on some machines: ask the engine itself."""
    try:
        done = subprocess.run([path, "info"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def wait_for(check: Callable[[], Any], *, timeout: float, interval: float = 1.0, what: str = "condition") -> Any:
    """Call ``check`` until it returns something truthy (which is returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as error:  # noqa: BLE001 - not ready yet; the last error is reported on timeout
            last = error
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


@dataclass(frozen=True)
class Engine:
    """One container engine binary; ``podman`` is driven exactly like ``docker`` except where noted."""

    path: str

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def is_podman(self) -> bool:
        return self.name == "podman"

    def __call__(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([self.path, *args], capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            output = done.stdout[-3000:] + done.stderr[-3000:]
            raise AssertionError(f"{self.name} {' '.join(args[:3])} ... failed:\n{output}")
        return done

    def build(self, target: str, python_image: str) -> float:
        """Build one Dockerfile target as ``adaptml-<target>:local``; the seconds it took."""
        extra = ["--format", "docker"] if self.is_podman else []  # podman's OCI format would drop HEALTHCHECK
        started = time.monotonic()
        self(
            "build", "--network", "host", *extra, "--build-arg", f"PYTHON_IMAGE={python_image}",
            "--target", target, "-t", IMAGE_TAGS[target], str(ROOT), timeout=1800,
        )  # fmt: skip
        return time.monotonic() - started

    def inspect(self, what: str) -> dict[str, Any]:
        loaded: list[dict[str, Any]] = json.loads(self("inspect", what).stdout)
        return loaded[0]

    def image_size(self, tag: str) -> int:
        return int(self.inspect(tag)["Size"])

    def run_once(
        self, image: str, argv: Sequence[str], *, env: Mapping[str, str] = {}, mounts: Iterable[str] = (),
        timeout: float = 900, entrypoint: str | None = None,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """``run --rm --network host`` to completion (one-shot jobs such as the pipeline)."""
        options = ["--entrypoint", entrypoint] if entrypoint is not None else []
        return self("run", "--rm", "--network", "host", *options, *_env_args(env), *_mount_args(mounts), image,
                    *argv, timeout=timeout)  # fmt: skip

    def start(
        self, name: str, image: str, argv: Sequence[str] = (), *, env: Mapping[str, str] = {},
        mounts: Iterable[str] = (),
    ) -> str:  # fmt: skip
        """``run -d --network host`` a long-running container; its name."""
        self.remove(name)
        self("run", "-d", "--name", name, "--network", "host", *_env_args(env), *_mount_args(mounts), image, *argv)
        return name

    def healthy(self, name: str) -> bool:
        """True once the image's HEALTHCHECK passes. Podman without systemd schedules no checks: run one now."""
        if self.is_podman:
            return self("healthcheck", "run", name, check=False, timeout=60).returncode == 0
        health = self.inspect(name)["State"].get("Health") or {}
        return health.get("Status") == "healthy"

    def started_at(self, name: str) -> str:
        state = self.inspect(name)["State"]
        assert state["Running"], f"{name} is not running"
        return str(state["StartedAt"])

    def logs(self, name: str) -> str:
        done = self("logs", name, check=False)
        return done.stdout + done.stderr

    def remove(self, *names: str) -> None:
        for name in names:
            self("rm", "-f", name, check=False, timeout=120)


def _env_args(env: Mapping[str, str]) -> list[str]:
    return [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]


def _mount_args(mounts: Iterable[str]) -> list[str]:
    return [arg for mount in mounts for arg in ("-v", mount)]
