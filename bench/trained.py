"""Model versions made by the real pipeline (``adaptml.pipeline.runner.train``), cached between benchmarks.

Serving benchmarks measure what training really publishes. Training a bundled dataset takes minutes, so a version
is kept in bench/.cache/ (git-ignored), keyed by the config, the dataset and the training code, and republished
into each benchmark's own embedded S3 server.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from adaptml.config import Config, load_config
from adaptml.datasets import seed
from adaptml.registry import Registry
from adaptml.storage import Storage
from bench.common import ROOT

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
CONFIGS = {"hotel_rates": ROOT / "configs" / "hotel_rates.yaml", "adult": ROOT / "configs" / "adult.yaml"}
MANIFEST_OWN = ("project", "version", "published_at", "files", "signature")


def config_for(dataset: str) -> Config:
    return load_config(CONFIGS[dataset])


def _cache_key(dataset: str) -> str:
    """Changes whenever the config, the bundled data or any training source file changes."""
    digest = hashlib.sha256(CONFIGS[dataset].read_bytes())
    digest.update((ROOT / "src" / "adaptml" / "datasets" / f"{dataset}.csv.gz").read_bytes())
    for package in ("training", "pipeline"):
        for path in sorted((ROOT / "src" / "adaptml" / package).glob("*.py")):
            digest.update(path.read_bytes())
    digest.update((ROOT / "src" / "adaptml" / "schema.py").read_bytes())
    return f"{dataset}-{digest.hexdigest()[:16]}"


def seed_dataset(cfg: Config, storage: Storage) -> None:
    storage.ensure_bucket(cfg.data.uri.removeprefix("s3://").split("/", 1)[0])
    storage.ensure_bucket(cfg.registry.removeprefix("s3://").split("/", 1)[0])
    seed(cfg.data.uri, storage=storage)


def train_now(cfg: Config, storage: Storage) -> Any:
    """Run the real pipeline once (Luigi, local scheduler, one worker) and return its TrainResult."""
    from adaptml.pipeline.runner import train

    return train(cfg, storage=storage, workers=1)


def save_to_cache(dataset: str, registry: Registry, version: str) -> Path:
    """Keep a version's files and metadata in bench/.cache/ (replacing the dataset's older entries)."""
    loaded = registry.load(version)
    folder = CACHE_DIR / _cache_key(dataset)
    for old in CACHE_DIR.glob(f"{dataset}-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    for path, data in loaded.files.items():
        target = folder / "files" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    metadata = {k: v for k, v in loaded.manifest.items() if k not in MANIFEST_OWN}
    (folder / "metadata.json").write_text(json.dumps({"version": version, "metadata": metadata}, default=str))
    return folder


def _publish_cached(folder: Path, registry: Registry) -> str:
    saved = json.loads((folder / "metadata.json").read_text())
    version = str(saved["version"])
    if version in registry.versions():  # an earlier benchmark of this process published it (moto keeps state)
        return version
    files = {str(p.relative_to(folder / "files")): p.read_bytes() for p in (folder / "files").rglob("*") if p.is_file()}
    registry.publish(version, files, saved["metadata"])
    return version


def _cached_folder(dataset: str, *, reuse: bool) -> Path | None:
    """The cache entry for the current training code, or with ``reuse`` the newest entry of any code."""
    exact = CACHE_DIR / _cache_key(dataset)
    if (exact / "metadata.json").exists():
        return exact
    if not reuse:
        return None
    entries = [p for p in CACHE_DIR.glob(f"{dataset}-*") if (p / "metadata.json").exists()]
    return max(entries, key=lambda p: p.stat().st_mtime, default=None)


def ensure_version(dataset: str, storage: Storage, *, reuse: bool = False) -> tuple[Registry, str]:
    """Seed the dataset into this S3 server and publish a trained version of it (from the cache when possible)."""
    cfg = config_for(dataset)
    seed_dataset(cfg, storage)
    registry = Registry(cfg.registry, cfg.project, storage=storage)
    folder = _cached_folder(dataset, reuse=reuse)
    if folder is not None:
        return registry, _publish_cached(folder, registry)
    cached = (CACHE_DIR / _cache_key(dataset)).relative_to(ROOT)
    print(f"training {dataset} with the real pipeline (cached afterwards in {cached})", flush=True)
    result = train_now(cfg, storage)
    save_to_cache(dataset, registry, result.version)
    return registry, result.version


def remember(dataset: str, registry: Registry, version: str) -> None:
    """Cache a version a benchmark trained anyway (the training benchmark), for the serving ones."""
    if not (CACHE_DIR / _cache_key(dataset) / "metadata.json").exists():
        save_to_cache(dataset, registry, version)
