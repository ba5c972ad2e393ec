"""What the web application needs to know: the typed ``Config``, plus what the process environment says.

The environment is read once, at an entry point (``adaptml serve``/``predict``, gunicorn's ``wsgi``, the demo), into
an ``Environment``, and passed down; nothing below the entry points reads ``os.environ``.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from adaptml.config import Config, ServingConfig, load_config
from adaptml.errors import ConfigError
from adaptml.reload.runtime import private_dir
from adaptml.reload.signing import resolve_secret
from adaptml.signing import Keys, warn_insecure

__all__ = [
    "CONFIG_ENV",
    "RESULTS_DIR_ENV",
    "RUNTIME_DIR_ENV",
    "SCHEDULER_ENV",
    "USER_RUNTIME_ENV",
    "Environment",
    "ServingSettings",
]

CONFIG_ENV = "ADAPTML_CONFIG"
RESULTS_DIR_ENV = "ADAPTML_RESULTS_DIR"
RUNTIME_DIR_ENV = "ADAPTML_RUNTIME_DIR"
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"  # Dask's own variable
USER_RUNTIME_ENV = "XDG_RUNTIME_DIR"  # the per-user private directory (0700) the login session provides
ROW_BYTES, HEADROOM_BYTES = 4 * 1024, 1024 * 1024  # the request byte limit per row allowed, plus one header's worth
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Environment:
    """The process environment as adaptml reads it: each variable in one place, with one meaning."""

    config_path: str | None = None
    dask_scheduler: str | None = None
    keys: Keys = field(default_factory=Keys)
    results_dir: str | None = None
    runtime_dir: str | None = None
    reload_secret: bytes | None = field(default=None, repr=False)
    user_runtime_dir: str | None = None

    @classmethod
    def read(
        cls, environ: Mapping[str, str], *, reload_secret: bool = True, insecure_unsigned: bool = False
    ) -> Environment:
        """Read ``environ`` (an entry point passes ``os.environ``); ``reload_secret=False`` skips the reload
        secret, which may live in SSM, for commands that serve nothing; ``insecure_unsigned`` is the command
        line's ``--insecure-unsigned``."""
        return cls(
            config_path=environ.get(CONFIG_ENV) or None,
            dask_scheduler=environ.get(SCHEDULER_ENV) or None,
            keys=Keys.from_environ(environ, insecure_unsigned=insecure_unsigned),
            results_dir=environ.get(RESULTS_DIR_ENV) or None,
            runtime_dir=environ.get(RUNTIME_DIR_ENV) or None,
            reload_secret=_reload_secret(environ) if reload_secret else None,
            user_runtime_dir=environ.get(USER_RUNTIME_ENV) or None,
        )

    def config(self, path: str | Path | None) -> Config:
        """The config named on the command line, else the one in ``ADAPTML_CONFIG``."""
        chosen = path or self.config_path
        if not chosen:
            raise ConfigError(f"no config given: pass --config CONFIG.yaml or set {CONFIG_ENV}")
        return load_config(chosen)


def _reader_keys(keys: Keys) -> Keys:
    """An app holds the public key only (a compromised app cannot sign); unsigned is accepted only loudly."""
    if keys.public is None and keys.insecure_unsigned:
        warn_insecure("this app")
    return keys.reader()


def _reload_secret(environ: Mapping[str, str]) -> bytes | None:
    try:
        return resolve_secret(environ)
    except Exception as error:  # noqa: BLE001 - a broken secret source disables the reload endpoint, not the app
        log.error("reload endpoint disabled: %s", error)
        return None


@dataclass(frozen=True)
class ServingSettings:
    """The registry to serve from, the serving limits, where downloads and reload state are kept, and the keys.

    ``results_dir`` and ``runtime_dir`` are shared by every worker process on a host, so a download works whichever
    worker answers and a reload notification reaches them all: the ones named, else per-user directories under
    ``user_runtime_dir`` (``XDG_RUNTIME_DIR``; gunicorn_conf makes private ones for its workers otherwise).
    ``keys`` hold the public key only; without one every version is refused unless ``keys.insecure_unsigned``.
    No ``reload_secret``: the reload endpoint refuses every notification.
    """

    registry: str
    project: str
    serving: ServingConfig = field(default_factory=ServingConfig)
    results_dir: str | None = None
    retry_initial_seconds: float = 1.0
    retry_max_seconds: float = 30.0
    runtime_dir: str | None = None
    keys: Keys = field(default_factory=Keys)
    reload_secret: bytes | None = field(default=None, repr=False)
    user_runtime_dir: str | None = None

    @classmethod
    def from_config(cls, config: Config | ServingSettings, environment: Environment | None = None) -> ServingSettings:
        if isinstance(config, ServingSettings):
            return config
        env = environment or Environment()
        return cls(
            registry=config.registry,
            project=config.project,
            serving=config.serving,
            results_dir=env.results_dir,
            runtime_dir=env.runtime_dir,
            keys=_reader_keys(env.keys),
            reload_secret=env.reload_secret,
            user_runtime_dir=env.user_runtime_dir,
        )

    @property
    def max_content_length(self) -> int:
        """The request byte limit: ``max_upload_mb``, and at most ``ROW_BYTES`` per row of ``max_rows`` (plus a
        MiB), so a request's memory stays proportional to the rows it may carry."""
        upload = int(self.serving.max_upload_mb * 1024 * 1024)
        return min(upload, self.serving.max_rows * ROW_BYTES + HEADROOM_BYTES)

    @property
    def max_content_length_source(self) -> str:
        """Which setting ``max_content_length`` comes from, as the 413 names it."""
        if self.max_content_length < int(self.serving.max_upload_mb * 1024 * 1024):
            return f"{ROW_BYTES // 1024} KiB per row of serving.max_rows, plus 1 MiB"
        return "serving.max_upload_mb"

    def resolved_results_dir(self) -> Path:
        """Where downloads are kept: see ``private_dir_for``."""
        return self.private_dir_for("results", self.results_dir)

    def resolved_runtime_dir(self) -> Path:
        """Where reload notifications and worker statuses are kept: see ``private_dir_for``."""
        return self.private_dir_for("runtime", self.runtime_dir)

    def private_dir_for(self, purpose: str, chosen: str | None) -> Path:
        """The directory chosen (checked private), else one per user, project and registry under
        ``XDG_RUNTIME_DIR``, else a fresh ``mkdtemp`` (0700): never a predictable path in the shared temp dir."""
        if chosen:
            return private_dir(Path(chosen))
        if self.user_runtime_dir:
            tag = hashlib.sha256(self.registry.encode("utf-8")).hexdigest()[:8]
            return private_dir(Path(self.user_runtime_dir) / f"adaptml-{self.project}-{tag}" / purpose)
        return Path(tempfile.mkdtemp(prefix=f"adaptml-{self.project}-{purpose}-"))
