"""The S3 model registry: the contract between training and serving.

    <registry>/<project>/versions/<version>/manifest.json   sha256 and size of every file, metadata, signature
    <registry>/<project>/versions/<version>/<files...>       metrics.csv, schema.json, models/*.pkl, eda/*
    <registry>/<project>/LATEST                              the signed pointer to the live version, written last
    <registry>/<project>/promotions/<stamp>.json             a signed record of every ``adaptml promote``

A version becomes visible only when LATEST points at it. Each manifest is signed (Ed25519, see ``adaptml.signing``)
over everything in it, project, version name and publish time included; LATEST is signed over the version, the
manifest's sha256, a sequence that only grows, and whether it is a promotion. Readers check the signatures, that the
manifest names this project and the version asked for, and every sha256, before anything is unpickled. Keys are read
at the entry points (``Keys.from_environ(os.environ)``) and handed to ``Registry(..., keys=...)``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adaptml.errors import IntegrityError, NoPublishedVersion, ObjectNotFound, RegistryError
from adaptml.signing import SIGNING_KEY_ENV, Keys
from adaptml.storage import S3Uri, Storage
from adaptml.version_names import VERSION_PATTERN, check_version_name

__all__ = [
    "SIGNING_KEY_ENV",
    "VERSION_PATTERN",
    "Latest",
    "LoadedVersion",
    "Registry",
    "check_version_name",
    "new_version_id",
    "sha256_hex",
    "signing_key_from",
]

MANIFEST = "manifest.json"
LATEST = "LATEST"
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f\\]")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_version_id(run_id: str, now: datetime | None = None) -> str:
    """Sortable, unique version name: UTC timestamp plus the run it came from."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{run_id[:8]}"


def signing_key_from(environ: Mapping[str, str]) -> Keys | None:
    """The publisher's keys an environment names; None when it names no private key (publish unsigned)."""
    keys = Keys.from_environ(environ)
    return keys if keys.can_sign else None


@dataclass(frozen=True)
class Latest:
    """The LATEST pointer, with the ETag it was read at (for cheap polling).

    ``sequence`` grows with every publish or promotion (0 for a legacy unsigned pointer); ``promoted`` says an
    older version was made live on purpose (``adaptml promote``), which is the only way a reader goes back.
    """

    version: str
    manifest_sha256: str
    etag: str = ""
    sequence: int = 0
    promoted: bool = False


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

    ``keys`` (from ``Keys.from_environ`` at an entry point): with a private key every manifest and LATEST is signed;
    with a public key every one read must verify; with neither, unsigned ones are refused unless
    ``keys.insecure_unsigned``. ``keys=None`` neither signs nor verifies: only for tests and tools that build a
    Registry by hand.
    """

    def __init__(
        self,
        root: str,
        project: str,
        *,
        storage: Storage | None = None,
        keys: Keys | None = None,
    ) -> None:
        self.root = S3Uri.parse(root)
        self.project = project
        self.storage = storage or Storage()
        self.keys = keys

    # -- addresses ---------------------------------------------------------------------------------
    @property
    def project_uri(self) -> S3Uri:
        return self.root.join(self.project)

    @property
    def latest_uri(self) -> S3Uri:
        return self.project_uri.join(LATEST)

    def version_uri(self, version: str) -> S3Uri:
        return self.project_uri.join("versions", check_version_name(version))

    def runs_uri(self, run_id: str) -> S3Uri:
        return self.project_uri.join("runs", run_id)

    # -- writing -----------------------------------------------------------------------------------
    def publish(self, version: str, files: Mapping[str, bytes], metadata: Mapping[str, Any] | None = None) -> Latest:
        """Upload every file, then the signed manifest, then LATEST: readers never see a partial version."""
        if MANIFEST in files:
            raise RegistryError(f"'{MANIFEST}' is written by the registry, not passed in")
        for path in files:
            _check_file_path(path)
        base = self.version_uri(version)
        if self.storage.exists(base.join(MANIFEST)):
            raise RegistryError(f"version {version} of {self.project} already exists; versions are immutable")
        for path, data in sorted(files.items()):
            self.storage.put_bytes(base.join(path), data, content_type=_content_type(path))
        manifest = self._signed(
            "manifest",
            {
                **dict(metadata or {}),
                "project": self.project,
                "version": version,
                "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "files": {p: {"sha256": sha256_hex(d), "size": len(d)} for p, d in sorted(files.items())},
            },
        )
        manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
        self.storage.put_bytes(base.join(MANIFEST), manifest_bytes, content_type="application/json")
        return self._point(version, sha256_hex(manifest_bytes), promoted=False)

    def promote(self, version: str) -> Latest:
        """Make a published (and verified) version live again on purpose, recorded under ``promotions/``."""
        if self.keys is None or not self.keys.can_sign:
            raise RegistryError(f"promoting needs the publisher's private key: set {SIGNING_KEY_ENV}")
        manifest_bytes = self._manifest_bytes(version)
        self._verified_manifest(version, manifest_bytes)
        previous = self._previous()
        latest = self._point(version, sha256_hex(manifest_bytes), promoted=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        record = self._signed(
            "promotion",
            {
                "project": self.project,
                "version": version,
                "previous": previous.version if previous else None,
                "sequence": latest.sequence,
                "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
        uri = self.project_uri.join("promotions", f"{stamp}.json")
        self.storage.put_text(uri, json.dumps(record, indent=2, sort_keys=True), content_type="application/json")
        return latest

    def _signed(self, purpose: str, document: dict[str, Any]) -> dict[str, Any]:
        document = json.loads(json.dumps(document, default=str))  # what readers will parse is what gets signed
        if self.keys is not None and self.keys.can_sign:
            document["signature"] = self.keys.sign(purpose, document)
        return document

    def _point(self, version: str, manifest_sha256: str, *, promoted: bool) -> Latest:
        """Write LATEST, signed, with a sequence above the one it replaces."""
        previous = self._previous()
        sequence = max(time.time_ns() // 1000, (previous.sequence if previous else 0) + 1)
        pointer = self._signed(
            "LATEST",
            {
                "project": self.project,
                "version": version,
                "manifest_sha256": manifest_sha256,
                "sequence": sequence,
                "promoted": promoted,
            },
        )
        etag = self.storage.put_text(self.latest_uri, json.dumps(pointer), content_type="application/json")
        return Latest(version, manifest_sha256, etag, sequence, promoted)

    def _previous(self) -> Latest | None:
        """The pointer being replaced, unverified (only its sequence matters), or None."""
        try:
            return self._parse_latest(self.storage.get_bytes(self.latest_uri), "", verify=False)
        except (ObjectNotFound, IntegrityError):
            return None

    # -- reading -----------------------------------------------------------------------------------
    def latest(self) -> Latest:
        """The current LATEST pointer, verified; NoPublishedVersion when nothing is published yet."""
        try:
            meta = self.storage.head(self.latest_uri)
            if meta is None:
                raise ObjectNotFound(f"{self.project}/{LATEST}")
            raw = self.storage.get_bytes(self.latest_uri)
        except ObjectNotFound as error:
            raise NoPublishedVersion(f"no published version of {self.project}") from error
        return self._parse_latest(raw, str(meta["ETag"]).strip('"'), verify=True)

    def _parse_latest(self, raw: bytes, etag: str, *, verify: bool) -> Latest:
        try:
            pointer = json.loads(raw)
            latest = Latest(
                check_version_name(pointer["version"]),
                str(pointer["manifest_sha256"]),
                etag,
                int(pointer.get("sequence", 0)),
                pointer.get("promoted") is True,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise IntegrityError(f"{self.project}/{LATEST}: not a valid LATEST pointer") from error
        if verify:  # the name is checked already, so a refusal may say which version this LATEST names
            self._check(LATEST, pointer, version=latest.version)
            if pointer.get("project", self.project) != self.project:
                raise IntegrityError(
                    f"{LATEST} belongs to another project than {self.project}", details={"version": latest.version}
                )
        return latest

    def latest_etag(self) -> str | None:
        return self.storage.etag(self.latest_uri)

    def versions(self) -> list[str]:
        """Every version with a manifest, oldest first (unpublished leftovers are not versions)."""
        prefix = self.project_uri.join("versions")
        suffix = f"/{MANIFEST}"
        found = [u for u in self.storage.list(f"{prefix}/") if u.endswith(suffix)]
        names = (u[: -len(suffix)].rsplit("/", 1)[-1] for u in found)
        return sorted(n for n in names if VERSION_PATTERN.fullmatch(n) and ".." not in n)

    def manifest(self, version: str) -> dict[str, Any]:
        """A version's manifest, verified (signature, project, name), without downloading its files."""
        return self._verified_manifest(version, self._manifest_bytes(version))

    def load(self, version: str | None = None, *, expected_manifest_sha256: str | None = None) -> LoadedVersion:
        """Download a version and verify the manifest's checksum, signature and binding, and every file's sha256."""
        if version is None:
            pointer = self.latest()
            version, expected_manifest_sha256 = pointer.version, pointer.manifest_sha256
        manifest_bytes = self._manifest_bytes(version)
        if expected_manifest_sha256 and sha256_hex(manifest_bytes) != expected_manifest_sha256:
            raise IntegrityError(f"{version}: manifest.json does not match the sha256 in LATEST")
        manifest = self._verified_manifest(version, manifest_bytes)
        base = self.version_uri(version)
        files: dict[str, bytes] = {}
        for path, entry in manifest["files"].items():
            data = self.storage.get_bytes(base.join(_check_file_path(path)))
            if len(data) != entry["size"] or sha256_hex(data) != entry["sha256"]:
                raise IntegrityError(f"{version}: {path} does not match its sha256 in the manifest")
            files[path] = data
        return LoadedVersion(self.project, version, manifest, files)

    def _manifest_bytes(self, version: str) -> bytes:
        return self.storage.get_bytes(self.version_uri(version).join(MANIFEST))

    def _verified_manifest(self, version: str, manifest_bytes: bytes) -> dict[str, Any]:
        try:
            manifest = json.loads(manifest_bytes)
        except ValueError as error:
            raise IntegrityError(f"{version}: manifest.json is not valid JSON") from error
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise IntegrityError(f"{version}: manifest.json lists no files")
        self._check("manifest", manifest, label=f"{version}: ")
        if manifest.get("project") != self.project:
            raise IntegrityError(f"{version}: the manifest belongs to another project than {self.project}")
        if manifest.get("version") != version:
            raise IntegrityError(f"{version}: the manifest was published under another version name")
        return manifest

    def _check(self, purpose: str, document: Mapping[str, Any], *, label: str = "", version: str = "") -> None:
        """IntegrityError unless ``document`` may be trusted under ``keys`` (``keys=None``: everything may)."""
        problem = self.keys.problem(purpose, document) if self.keys is not None else None
        if problem is not None:
            raise IntegrityError(label + problem, details={"version": version} if version else None)


def _check_file_path(path: str) -> str:
    """A manifest's file path stays inside its version: relative, no empty, ``.`` or ``..`` part, no control."""
    if _UNSAFE_IN_PATH.search(path) or any(part in ("", ".", "..") for part in path.split("/")):
        raise IntegrityError(f"not a valid file path in a version: {path[:80]!r}")
    return path


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
