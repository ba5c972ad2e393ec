"""S3 storage over boto3: objects, files, listings and datasets, with one-line errors.

Configuration comes from boto3's own chain (AWS_ENDPOINT_URL, AWS_PROFILE, AWS_REGION, credentials).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from adaptml.errors import (
    AccessDenied,
    BucketNotFound,
    DataError,
    EndpointUnreachable,
    ObjectNotFound,
    StorageError,
)

__all__ = ["S3Uri", "Storage", "default_client", "read_table"]

_ACCESS_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "403",
}
_MISSING_KEY_CODES = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True, slots=True)
class S3Uri:
    """An ``s3://bucket/key`` address."""

    bucket: str
    key: str = ""

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        if not uri.startswith("s3://"):
            raise StorageError(f"{uri}: not an s3:// URI")
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not bucket:
            raise StorageError(f"{uri}: no bucket in URI")
        return cls(bucket, key)

    def join(self, *parts: str) -> S3Uri:
        key = "/".join(p.strip("/") for p in (self.key, *parts) if p.strip("/"))
        return S3Uri(self.bucket, key)

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def default_client() -> Any:
    """A boto3 S3 client from boto3's own configuration chain, failing fast on a dead endpoint."""
    import boto3
    from botocore.config import Config as BotoConfig

    config = BotoConfig(
        connect_timeout=3,
        read_timeout=60,
        retries={"max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": "path"},
    )
    return boto3.session.Session().client("s3", config=config)


class Storage:
    """Thin, typed access to S3 for the rest of adaptml; the boto3 client is injected or made lazily."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = default_client()
        return self._client

    @property
    def endpoint(self) -> str:
        return str(self.client.meta.endpoint_url)

    # -- objects -----------------------------------------------------------------------------------
    def get_bytes(self, uri: str | S3Uri) -> bytes:
        loc = _as_uri(uri)
        with self._translate(loc):
            body = self.client.get_object(Bucket=loc.bucket, Key=loc.key)["Body"]
            return bytes(body.read())

    def get_text(self, uri: str | S3Uri) -> str:
        return self.get_bytes(uri).decode("utf-8")

    def put_bytes(self, uri: str | S3Uri, data: bytes, *, content_type: str | None = None) -> str:
        """Write one object (S3 PUTs are atomic); returns its ETag."""
        loc = _as_uri(uri)
        extra = {"ContentType": content_type} if content_type else {}
        with self._translate(loc):
            response = self.client.put_object(Bucket=loc.bucket, Key=loc.key, Body=data, **extra)
        return str(response.get("ETag", "")).strip('"')

    def put_text(self, uri: str | S3Uri, text: str, *, content_type: str = "text/plain") -> str:
        return self.put_bytes(uri, text.encode("utf-8"), content_type=content_type)

    def upload_file(self, path: str | Path, uri: str | S3Uri) -> None:
        loc = _as_uri(uri)
        with self._translate(loc):
            self.client.upload_file(str(path), loc.bucket, loc.key)

    def download_file(self, uri: str | S3Uri, path: str | Path) -> None:
        loc = _as_uri(uri)
        with self._translate(loc):
            self.client.download_file(loc.bucket, loc.key, str(path))

    def head(self, uri: str | S3Uri) -> dict[str, Any] | None:
        """Metadata of an object, or None when it does not exist (a missing bucket is still an error)."""
        loc = _as_uri(uri)
        try:
            with self._translate(loc):
                return dict(self.client.head_object(Bucket=loc.bucket, Key=loc.key))
        except ObjectNotFound:
            return None

    def exists(self, uri: str | S3Uri) -> bool:
        return self.head(uri) is not None

    def etag(self, uri: str | S3Uri) -> str | None:
        meta = self.head(uri)
        return None if meta is None else str(meta["ETag"]).strip('"')

    def list(self, prefix: str | S3Uri) -> list[str]:
        """Every object URI under a prefix, sorted."""
        loc = _as_uri(prefix)
        uris: list[str] = []
        with self._translate(loc):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=loc.bucket, Prefix=loc.key):
                uris.extend(f"s3://{loc.bucket}/{item['Key']}" for item in page.get("Contents", []))
        return sorted(uris)

    def delete(self, uri: str | S3Uri) -> None:
        loc = _as_uri(uri)
        with self._translate(loc):
            self.client.delete_object(Bucket=loc.bucket, Key=loc.key)

    def ensure_bucket(self, bucket: str) -> None:
        loc = S3Uri(bucket)
        with self._translate(loc):
            try:
                self.client.head_bucket(Bucket=bucket)
            except Exception as error:  # noqa: BLE001 - narrowed below
                if _error_code(error) not in {"404", "NoSuchBucket", "NotFound"}:
                    raise
                self.client.create_bucket(Bucket=bucket)

    # -- datasets ----------------------------------------------------------------------------------
    def read_dataset(self, uri: str | S3Uri) -> pd.DataFrame:
        """Read a CSV, CSV.gz or Parquet table from S3 into pandas."""
        loc = _as_uri(uri)
        return read_table(self.get_bytes(loc), name=loc.key, source=str(loc))

    # -- errors ------------------------------------------------------------------------------------
    @contextmanager
    def _translate(self, loc: S3Uri) -> Iterator[None]:
        """Turn botocore's exceptions into one-line adaptml errors that say what and where."""
        from botocore.exceptions import (
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )
        from botocore.exceptions import (
            ConnectionError as BotoConnectionError,
        )

        try:
            yield
        except ClientError as error:
            code = _error_code(error)
            if code == "NoSuchBucket":
                raise BucketNotFound(f"bucket not found: {loc.bucket} (at {self.endpoint})") from error
            if code in _MISSING_KEY_CODES:
                raise ObjectNotFound(f"object not found: {loc} (at {self.endpoint})") from error
            if code in _ACCESS_CODES:
                raise AccessDenied(f"access denied to {loc}: {code} (check AWS credentials)") from error
            raise StorageError(f"S3 error {code} on {loc}") from error
        except NoCredentialsError as error:
            raise AccessDenied(f"no AWS credentials found for {loc} (set AWS_PROFILE or keys)") from error
        except (EndpointConnectionError, BotoConnectionError) as error:
            raise EndpointUnreachable(f"S3 endpoint unreachable: {self.endpoint} (while accessing {loc})") from error


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _as_uri(uri: str | S3Uri) -> S3Uri:
    return uri if isinstance(uri, S3Uri) else S3Uri.parse(uri)


def read_table(data: bytes, *, name: str, source: str | None = None) -> pd.DataFrame:
    """Parse bytes named like a CSV, CSV.gz or Parquet file into a DataFrame; a clear DataError otherwise."""
    source = source or name
    lowered = name.lower()
    buffer = io.BytesIO(data)
    if not data:
        raise DataError(f"{source}: the file is empty")
    try:
        if lowered.endswith((".parquet", ".pq")):
            return pd.read_parquet(buffer)
        compression: Literal["gzip"] | None = "gzip" if lowered.endswith(".gz") or data[:2] == b"\x1f\x8b" else None
        sep = "\t" if ".tsv" in lowered else ","
        # only an empty cell is missing here: cleaning decides per column whether NA, None or null is a marker
        return pd.read_csv(
            buffer, compression=compression, sep=sep, low_memory=False, keep_default_na=False, na_values=[""]
        )
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{source}: the file has no columns") from error
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__
        raise DataError(f"{source}: not a readable table ({first})") from error
