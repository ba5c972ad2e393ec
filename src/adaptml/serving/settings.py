"""What the web application needs to know, taken from the one typed ``Config`` (or built directly in tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from adaptml.config import Config, ServingConfig, load_config
from adaptml.errors import ConfigError

__all__ = ["CONFIG_ENV", "RESULTS_DIR_ENV", "ServingSettings", "config_from_path_or_env"]

CONFIG_ENV = "ADAPTML_CONFIG"
RESULTS_DIR_ENV = "ADAPTML_RESULTS_DIR"


@dataclass(frozen=True)
class ServingSettings:
    """The registry to serve from, the serving limits, and where downloadable results are kept.

    ``results_dir`` is shared by every worker process on a host, so a download works whichever worker answers.
    """

    registry: str
    project: str
    serving: ServingConfig = field(default_factory=ServingConfig)
    results_dir: str | None = None
    retry_initial_seconds: float = 1.0
    retry_max_seconds: float = 30.0

    @classmethod
    def from_config(cls, config: Config | ServingSettings) -> ServingSettings:
        if isinstance(config, ServingSettings):
            return config
        return cls(registry=config.registry, project=config.project, serving=config.serving)

    @property
    def max_content_length(self) -> int:
        return int(self.serving.max_upload_mb * 1024 * 1024)

    def resolved_results_dir(self) -> Path:
        chosen = self.results_dir or os.environ.get(RESULTS_DIR_ENV)
        if chosen:
            return Path(chosen)
        import tempfile

        return Path(tempfile.gettempdir()) / f"adaptml-results-{self.project}"


def config_from_path_or_env(path: str | Path | None) -> Config:
    """The config named on the command line, else the one in ``ADAPTML_CONFIG``."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if not chosen:
        raise ConfigError(f"no config given: pass --config CONFIG.yaml or set {CONFIG_ENV}")
    return load_config(chosen)
