"""What the web application needs to know: the typed ``Config``, plus what the process environment says.

The environment is read once, at an entry point (``adaptml serve``/``predict``, gunicorn's ``wsgi``, the demo), into
an ``Environment``, and passed down; nothing below the entry points reads ``os.environ``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from adaptml.config import Config, ServingConfig, load_config
from adaptml.errors import ConfigError
from adaptml.reload.signing import resolve_secret
from adaptml.signing import Keys, warn_insecure

__all__ = [
    "CONFIG_ENV",
    "RESULTS_DIR_ENV",
    "RUNTIME_DIR_ENV",
    "SCHEDULER_ENV",
    "Environment",
    "ServingSettings",
]

CONFIG_ENV = "ADAPTML_CONFIG"
RESULTS_DIR_ENV = "ADAPTML_RESULTS_DIR"
RUNTIME_DIR_ENV = "ADAPTML_RUNTIME_DIR"
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"  # Dask's own variable
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
        )

    def config(self, path: str | Path | None) -> Config:
        """The config named on the command line, else the one in ``ADAPTML_CONFIG``."""
        chosen = path or self.config_path
        if not chosen:
            raise ConfigError(f"no config given: pass --config CONFIG.yaml or set {CONFIG_ENV}")
        return load_config(chosen)

    @property
    def signing_key(self) -> Keys:
        """Transitional alias of ``keys`` (``serving/batch.py`` still says ``signing_key``)."""
        return self.keys


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
    worker answers and a reload notification reaches them all. ``keys`` hold the public key only; without one every
    version is refused unless ``keys.insecure_unsigned``. No ``reload_secret``: the reload endpoint refuses every
    notification.
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
        )

    @property
    def signing_key(self) -> Keys:
        """Transitional alias of ``keys`` (``serving/app.py`` still says ``signing_key``)."""
        return self.keys

    @property
    def max_content_length(self) -> int:
        return int(self.serving.max_upload_mb * 1024 * 1024)

    def resolved_results_dir(self) -> Path:
        if self.results_dir:
            return Path(self.results_dir)
        return Path(tempfile.gettempdir()) / f"adaptml-results-{self.project}"
