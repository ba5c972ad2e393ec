"""The S3 model registry: the contract between training and serving.

    <registry>/<project>/versions/<version>/manifest.json   sha256 and size of every file, plus metadata
    <registry>/<project>/versions/<version>/<files...>       metrics.csv, schema.json, models/*.pkl, eda/*
    <registry>/<project>/LATEST                              {"version": ..., "manifest_sha256": ...}, last

A version becomes visible only when LATEST points at it; readers verify every sha256 (and, when a signing
key is given, the manifest's HMAC) before anything is unpickled. The key (``ADAPTML_SIGNING_KEY``) is read at the
entry points with ``signing_key_from(os.environ)`` and handed to ``Registry(..., signing_key=...)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adaptml.errors import IntegrityError, NoPublishedVersion, ObjectNotFound, RegistryError
from adaptml.storage import S3Uri, Storage

__all__ = [
    "SIGNING_KEY_ENV",
    "Latest",
    "LoadedVersion",
    "Registry",
    "new_version_id",
    "sha256_hex",
    "signing_key_from",
]

SIGNING_KEY_ENV = "ADAPTML_SIGNING_KEY"
MANIFEST = "manifest.json"
LATEST = "LATEST"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_version_id(run_id: str, now: datetime | None = None) -> str:
    """Sortable, unique version name: UTC timestamp plus the run it came from."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{run_id[:8]}"


def signing_key_from(environ: Mapping[str, str]) -> bytes | None:
    """The manifest signing key an environment names; None when it names none."""
    key = environ.get(SIGNING_KEY_ENV)
    return key.encode("utf-8") if key else None


def signing_key_from_env() -> bytes | None:
    """Transitional, for ``pipeline/modelling.py`` only until ``adaptml train`` passes the key down; then delete."""
    return signing_key_from(os.environ)


def _canonical(manifest: Mapping[str, Any]) -> bytes:
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_manifest(manifest: Mapping[str, Any], key: bytes) -> str:
    return hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Latest:
    """The LATEST pointer, with the ETag it was read at (for cheap polling)."""

    version: str
    manifest_sha256: str
    etag: str = ""


@dataclass(frozen=True)
class LoadedVersion:
    """A verified version: its manifest and the bytes of every file, keyed by relative path."""

    project: str
    version: str
    manifest: dict[str, Any]
    files: dict[str, bytes] = field(repr=False)

    def json(self, path: str) -> Any:
        return json.loads(self.files[path].decode("utf-8"))


class Registry:
    """Publishes and reads immutable model versions of one project.

    With a ``signing_key`` every published manifest is signed and every loaded one must verify; without one,
    manifests are neither signed nor checked.
    """

    def __init__(
        self,
        root: str,
        project: str,
        *,
        storage: Storage | None = None,
        signing_key: bytes | None = None,
    ) -> None:
        self.root = S3Uri.parse(root)
        self.project = project
        self.storage = storage or Storage()
        self.signing_key = signing_key

    # -- addresses ---------------------------------------------------------------------------------
    @property
    def project_uri(self) -> S3Uri:
        return self.root.join(self.project)

    @property
    def latest_uri(self) -> S3Uri:
        return self.project_uri.join(LATEST)

    def version_uri(self, version: str) -> S3Uri:
        return self.project_uri.join("versions", version)

    def runs_uri(self, run_id: str) -> S3Uri:
        return self.project_uri.join("runs", run_id)

    # -- writing -----------------------------------------------------------------------------------
    def publish(self, version: str, files: Mapping[str, bytes], metadata: Mapping[str, Any] | None = None) -> Latest:
        """Upload every file, then the manifest, then LATEST: readers never see a partial version."""
        if MANIFEST in files:
            raise RegistryError(f"'{MANIFEST}' is written by the registry, not passed in")
        base = self.version_uri(version)
        if self.storage.exists(base.join(MANIFEST)):
            raise RegistryError(f"version {version} of {self.project} already exists; versions are immutable")
        for path, data in sorted(files.items()):
            self.storage.put_bytes(base.join(path), data, content_type=_content_type(path))
        manifest: dict[str, Any] = {
            **dict(metadata or {}),
            "project": self.project,
            "version": version,
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": {p: {"sha256": sha256_hex(d), "size": len(d)} for p, d in sorted(files.items())},
        }
        if self.signing_key:
            manifest["signature"] = sign_manifest(manifest, self.signing_key)
        manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode("utf-8")
        self.storage.put_bytes(base.join(MANIFEST), manifest_bytes, content_type="application/json")
        pointer = {"version": version, "manifest_sha256": sha256_hex(manifest_bytes)}
        etag = self.storage.put_text(self.latest_uri, json.dumps(pointer), content_type="application/json")
        return Latest(version, pointer["manifest_sha256"], etag)

    # -- reading -----------------------------------------------------------------------------------
    def latest(self) -> Latest:
        """The current LATEST pointer; NoPublishedVersion when nothing is published yet."""
        try:
            meta = self.storage.head(self.latest_uri)
            if meta is None:
                raise ObjectNotFound(str(self.latest_uri))
            raw = self.storage.get_bytes(self.latest_uri)
        except ObjectNotFound as error:
            raise NoPublishedVersion(f"no published version of {self.project} at {self.project_uri}") from error
        try:
            pointer = json.loads(raw)
            return Latest(str(pointer["version"]), str(pointer["manifest_sha256"]), str(meta["ETag"]).strip('"'))
        except (ValueError, KeyError, TypeError) as error:
            raise IntegrityError(f"{self.latest_uri}: not a valid LATEST pointer") from error

    def latest_etag(self) -> str | None:
        return self.storage.etag(self.latest_uri)

    def versions(self) -> list[str]:
        """Every version with a manifest, oldest first (unpublished leftovers are not versions)."""
        prefix = self.project_uri.join("versions")
        suffix = f"/{MANIFEST}"
        found = [u for u in self.storage.list(f"{prefix}/") if u.endswith(suffix)]
        return sorted(u[: -len(suffix)].rsplit("/", 1)[-1] for u in found)

    def load(self, version: str | None = None, *, expected_manifest_sha256: str | None = None) -> LoadedVersion:
        """Download a version and verify the manifest's checksum and signature and every file's sha256."""
        if version is None:
            pointer = self.latest()
            version, expected_manifest_sha256 = pointer.version, pointer.manifest_sha256
        base = self.version_uri(version)
        manifest_bytes = self.storage.get_bytes(base.join(MANIFEST))
        if expected_manifest_sha256 and sha256_hex(manifest_bytes) != expected_manifest_sha256:
            raise IntegrityError(f"{version}: manifest.json does not match the sha256 in LATEST")
        manifest = json.loads(manifest_bytes)
        self._check_signature(version, manifest)
        files: dict[str, bytes] = {}
        for path, entry in manifest["files"].items():
            data = self.storage.get_bytes(base.join(path))
            if len(data) != entry["size"] or sha256_hex(data) != entry["sha256"]:
                raise IntegrityError(f"{version}: {path} does not match its sha256 in the manifest")
            files[path] = data
        return LoadedVersion(self.project, version, manifest, files)

    def _check_signature(self, version: str, manifest: Mapping[str, Any]) -> None:
        if not self.signing_key:
            return
        signature = manifest.get("signature")
        if not isinstance(signature, str):
            raise IntegrityError(f"{version}: manifest is not signed, and a signing key is configured")
        if not hmac.compare_digest(signature, sign_manifest(manifest, self.signing_key)):
            raise IntegrityError(f"{version}: manifest signature does not verify with the configured key")


def _content_type(path: str) -> str:
    for suffix, kind in (
        (".json", "application/json"),
        (".csv", "text/csv"),
        (".html", "text/html"),
        (".png", "image/png"),
        (".pkl", "application/octet-stream"),
    ):
        if path.endswith(suffix):
            return kind
    return "application/octet-stream"
