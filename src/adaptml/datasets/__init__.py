"""The bundled example datasets, shipped as the raw csv.gz a user would upload, and the seed step."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from adaptml.errors import DataError
from adaptml.storage import S3Uri, Storage

__all__ = ["BUNDLED", "bundled_path", "read_bundled", "seed"]

BUNDLED = ("hotel_rates", "adult")


def bundled_path(name: str) -> Path:
    if name not in BUNDLED:
        raise DataError(f"no bundled dataset named {name!r}; choose from {', '.join(BUNDLED)}")
    return Path(str(resources.files(__package__).joinpath(f"{name}.csv.gz")))


def read_bundled(name: str) -> pd.DataFrame:
    return pd.read_csv(bundled_path(name), low_memory=False)


def seed(uri: str, *, storage: Storage | None = None) -> str:
    """Upload the bundled dataset whose file name matches ``uri`` there, creating the bucket if needed."""
    storage = storage or Storage()
    target = S3Uri.parse(uri)
    name = target.name.split(".", 1)[0]
    path = bundled_path(name)
    storage.ensure_bucket(target.bucket)
    storage.put_bytes(target, path.read_bytes(), content_type="application/gzip")
    return str(target)
