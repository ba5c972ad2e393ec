"""The layout of a run workspace, ``<registry>/<project>/runs/<run_id>/``: every artifact, its format, its writer.

This is the only module that names workspace paths. Each artifact is written by exactly one stage (``writer``) and
read only by stages that require that stage, so the Luigi graph is the data graph. Every read and write passes through
``Workspace.read_bytes`` / ``Workspace.write_bytes``, the one place that tags and verifies workspace objects: the
workspace is never a trust input (see ``Workspace`` and ``adaptml.pipeline.trust``). Each artifact has a tag object
beside it, ``<path>.mac``.

    path                        format   writer
    ingest/data<.ext>           bytes    ingest      the dataset as fetched (its extension says how to read it)
    ingest/info.json            json     ingest      uri, sha256, bytes, rows, columns
    clean/data.parquet          parquet  clean       the typed, deduplicated table
    clean/problem.json          json     clean       input schema and task (metric, classes)
    reports/cleaning.json       json     clean       what cleaning did
    eda/files.zip               zip      explore     the EDA report and plots, by path
    eda/summary.json            json     explore     file list, alerts, leakage suspects (written last)
    split/train.parquet         parquet  split       the training split
    split/test.parquet          parquet  split       the held-out test split
    reports/selection.json      json     select      the feature plan and the kept columns
    models/<name>.pkl           pickle   train       the whole fitted pipeline (also ``ensemble``)
    models/<name>.oof.npy       npy      train       out-of-fold predictions on the training split
    models/<name>.json          json     train       CV scores, fit seconds, params, pickle size (also ``ensemble``)
    evaluate/leaderboard.json   json     evaluate    the ranked leaderboard on the test split
    evaluate/diagnostics.json   json     evaluate    held-out curves and figures per model (diagnostics.json)
    evaluate/refit.json         json     evaluate    whether the refit on every row fits in the budget, and why
    refit/<name>.pkl            pickle   refit       the pipeline refit on train + test (None when not refit)
    refit/<name>.json           json     refit       the refit's facts (rows, seconds, or why not)
    published.json              json     publish     the outcome of the run; its existence means "published"
    evaluate/diagnostics.json   json     evaluate    held-out curves and figures per model (``diagnostics.json``)
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from adaptml.errors import IntegrityError, ObjectNotFound
from adaptml.pipeline.trust import artifact_tag, workspace_key
from adaptml.storage import S3Uri, Storage

__all__ = [
    "CLEAN_DATA",
    "DIAGNOSTICS",
    "CLEANING_REPORT",
    "EDA_FILES",
    "EDA_SUMMARY",
    "INGEST_INFO",
    "LEADERBOARD",
    "PROBLEM",
    "PUBLISHED",
    "REFIT_DECISION",
    "SELECTION",
    "TAG_SUFFIX",
    "TEST_SPLIT",
    "TRAIN_SPLIT",
    "Artifact",
    "Codec",
    "Workspace",
    "ensemble_files",
    "ingest_data",
    "model_files",
    "refit_files",
]

T = TypeVar("T")

TAG_SUFFIX = ".mac"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How a value becomes the bytes of one object, and back."""

    name: str
    encode: Callable[[T], bytes]
    decode: Callable[[bytes], T]


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _array_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for path, data in sorted(files.items()):
            archive.writestr(path, data)
    return buffer.getvalue()


def _unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


BYTES: Codec[bytes] = Codec("bytes", bytes, bytes)
JSON: Codec[Any] = Codec(
    "json", lambda value: json.dumps(value, indent=2, default=str).encode("utf-8"), lambda data: json.loads(data)
)
PARQUET: Codec[pd.DataFrame] = Codec("parquet", _frame_bytes, lambda data: pd.read_parquet(io.BytesIO(data)))
NPY: Codec[np.ndarray] = Codec("npy", _array_bytes, lambda data: np.load(io.BytesIO(data), allow_pickle=False))
PICKLE: Codec[Any] = Codec("pickle", lambda value: pickle.dumps(value, protocol=5), pickle.loads)
ZIP: Codec[dict[str, bytes]] = Codec("zip", _zip_bytes, _unzip)


@dataclass(frozen=True)
class Artifact(Generic[T]):
    """One object of the workspace: where it lives, how it is encoded, which stage writes it."""

    path: str
    codec: Codec[T]
    writer: str


def _source_name(uri: str) -> str:
    name = uri.rsplit("/", 1)[-1]
    return "data" + (name[name.index(".") :] if "." in name else "")


def ingest_data(source_uri: str) -> Artifact[bytes]:
    """The dataset's bytes, named with the source's extensions (``.csv.gz``) so readers know its format."""
    return Artifact(f"ingest/{_source_name(source_uri)}", BYTES, "ingest")


INGEST_INFO: Artifact[Any] = Artifact("ingest/info.json", JSON, "ingest")
CLEAN_DATA: Artifact[pd.DataFrame] = Artifact("clean/data.parquet", PARQUET, "clean")
PROBLEM: Artifact[Any] = Artifact("clean/problem.json", JSON, "clean")
CLEANING_REPORT: Artifact[Any] = Artifact("reports/cleaning.json", JSON, "clean")
EDA_FILES: Artifact[dict[str, bytes]] = Artifact("eda/files.zip", ZIP, "explore")
EDA_SUMMARY: Artifact[Any] = Artifact("eda/summary.json", JSON, "explore")
TRAIN_SPLIT: Artifact[pd.DataFrame] = Artifact("split/train.parquet", PARQUET, "split")
TEST_SPLIT: Artifact[pd.DataFrame] = Artifact("split/test.parquet", PARQUET, "split")
SELECTION: Artifact[Any] = Artifact("reports/selection.json", JSON, "select")
LEADERBOARD: Artifact[Any] = Artifact("evaluate/leaderboard.json", JSON, "evaluate")
PUBLISHED: Artifact[Any] = Artifact("published.json", JSON, "publish")
DIAGNOSTICS: Artifact[Any] = Artifact("evaluate/diagnostics.json", JSON, "evaluate")
REFIT_DECISION: Artifact[Any] = Artifact("evaluate/refit.json", JSON, "evaluate")


def model_files(name: str) -> dict[str, Artifact[Any]]:
    """What ``Train(name)`` writes, by key: the ``pickle``, its ``facts`` and its out-of-fold predictions ``oof``."""
    return {
        "pickle": Artifact(f"models/{name}.pkl", PICKLE, "train"),
        "facts": Artifact(f"models/{name}.json", JSON, "train"),
        "oof": Artifact(f"models/{name}.oof.npy", NPY, "train"),
    }


def refit_files(name: str) -> dict[str, Artifact[Any]]:
    """What ``Refit(name)`` writes: the model refit on every row (None when not refit) and its ``facts``."""
    return {
        "pickle": Artifact(f"refit/{name}.pkl", PICKLE, "refit"),
        "facts": Artifact(f"refit/{name}.json", JSON, "refit"),
    }


def ensemble_files(name: str) -> dict[str, Artifact[Any]]:
    """What ``Ensemble`` writes, by the same keys as a trained model's (it has no out-of-fold predictions)."""
    return {
        "pickle": Artifact(f"models/{name}.pkl", PICKLE, "ensemble"),
        "facts": Artifact(f"models/{name}.json", JSON, "ensemble"),
    }


@dataclass(frozen=True)
class Workspace:
    """Typed, verified access to one run's workspace on S3.

    Every artifact is written with its tag (``trust.artifact_tag`` under the run's ``key``) in ``<path>.mac``. An
    artifact whose tag is missing or wrong is absent: ``exists`` says False (with a warning), so Luigi runs its stage
    again and rewrites it, and ``read_bytes`` refuses it. Nothing is decoded (unpickled) before it verifies.
    ``key`` defaults to this machine's key for the run ``root`` names, the key of a run without a signing key.
    ``verified`` remembers the ETags of objects this process wrote or verified, so ``exists`` need not download
    them again; reads always verify the bytes they return.
    """

    storage: Storage
    root: S3Uri
    key: bytes | None = field(default=None, repr=False)
    verified: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = self.key if self.key is not None else workspace_key(self.root.name)
        if len(key) < 16:
            raise ValueError("a workspace key has at least 16 bytes")
        object.__setattr__(self, "key", key)

    def uri(self, artifact: Artifact[Any]) -> S3Uri:
        return self.root.join(artifact.path)

    def exists(self, artifact: Artifact[Any]) -> bool:
        """Present with a valid tag; an untagged or tampered artifact is absent, so its stage runs again."""
        uri = self.uri(artifact)
        etag = self.storage.etag(uri)
        if etag is None:
            return False
        if self.verified.get(str(uri)) == (etag, self.storage.etag(self._tag_uri(artifact))):
            return True  # the very objects this process wrote or verified
        try:
            data = self.storage.get_bytes(uri)
        except ObjectNotFound:
            return False
        return self._verify(artifact, data)

    def read_bytes(self, artifact: Artifact[Any]) -> bytes:
        """Every read passes here: the bytes are returned only once their tag verifies, before anything decodes them."""
        uri = self.uri(artifact)
        data = self.storage.get_bytes(uri)
        if not self._verify(artifact, data):
            raise IntegrityError(f"{uri}: no valid workspace tag, not decoded; run adaptml train again to rebuild it")
        return data

    def write_bytes(self, artifact: Artifact[Any], data: bytes) -> int:
        """Every write passes here: the artifact, then its tag; returns the stored size in bytes."""
        uri = self.uri(artifact)
        tag = artifact_tag(self._key, artifact.path, data).encode("ascii")
        etag = self.storage.put_bytes(uri, data)
        tag_etag = self.storage.put_bytes(self._tag_uri(artifact), tag, content_type="text/plain")
        self.verified[str(uri)] = (etag, tag_etag)
        return len(data)

    def load(self, artifact: Artifact[T]) -> T:
        return artifact.codec.decode(self.read_bytes(artifact))

    def dump(self, artifact: Artifact[T], value: T) -> int:
        return self.write_bytes(artifact, artifact.codec.encode(value))

    @property
    def _key(self) -> bytes:
        assert self.key is not None  # set in __post_init__
        return self.key

    def _tag_uri(self, artifact: Artifact[Any]) -> S3Uri:
        return self.root.join(artifact.path + TAG_SUFFIX)

    def _verify(self, artifact: Artifact[Any], data: bytes) -> bool:
        """Whether ``data`` carries the artifact's tag; a refusal is logged with the artifact's address."""
        try:
            stored = self.storage.get_bytes(self._tag_uri(artifact))
        except ObjectNotFound:
            stored = b""
        if hmac.compare_digest(stored, artifact_tag(self._key, artifact.path, data).encode("ascii")):
            self.verified[str(self.uri(artifact))] = (_md5(data), _md5(stored))  # S3's ETag of a plain PUT
            return True
        problem = "has no tag" if not stored else "fails its tag (changed, or tagged with another key)"
        _log.warning("workspace artifact %s %s: treated as absent, never decoded", self.uri(artifact), problem)
        return False


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
