"""The one exception tree of adaptml; every error knows its HTTP status and prints as one line.

AdaptmlError                      500  base; ``str(err)`` is a one-line message for humans
├── ConfigError                   400  a config file is unreadable or invalid (names the key and file)
├── StorageError                  502  S3 said no or could not be reached
│   ├── BucketNotFound            404
│   ├── ObjectNotFound            404
│   ├── AccessDenied              403  bad credentials or missing permission
│   └── EndpointUnreachable       503
├── DataError                     422  a dataset cannot be used for training (empty, no target, ...)
├── RegistryError                 503  the model registry is empty or inconsistent
│   ├── NoPublishedVersion        503
│   ├── IntegrityError            503  a file does not match its manifest (sha256, size, signature)
│   └── RefusedVersion            503  the serving store refused the version LATEST names (it says why)
├── InputError                    400  a client's prediction input is wrong (names row and column)
│   ├── BadCells                  400  several cells cannot be read: lists each (up to a cap) and counts them
│   ├── UnsupportedMediaType      415
│   └── PayloadTooLarge           413
├── Unauthenticated               401  a signed endpoint got no signature
├── PermissionDenied              403  a wrong signature, or the endpoint is disabled (no secret configured)
├── NotReady                      503  no verified model version is loaded yet
├── EngineUnavailable             503  the batch engine (Dask) cannot run now: predict directly instead
└── StoreGone                     500  the model store a reload watcher watched was discarded: the watcher ends
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AdaptmlError",
    "BadCells",
    "BucketNotFound",
    "ConfigError",
    "DataError",
    "EndpointUnreachable",
    "EngineUnavailable",
    "InputError",
    "IntegrityError",
    "NoPublishedVersion",
    "NotReady",
    "ObjectNotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RefusedVersion",
    "RegistryError",
    "StorageError",
    "StoreGone",
    "Unauthenticated",
    "UnsupportedMediaType",
]


class AdaptmlError(Exception):
    """Base of every error adaptml raises on purpose."""

    status_code: int = 500

    def __init__(self, message: str, *, details: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class ConfigError(AdaptmlError):
    status_code = 400


class StorageError(AdaptmlError):
    status_code = 502


class BucketNotFound(StorageError):
    status_code = 404


class ObjectNotFound(StorageError):
    status_code = 404


class AccessDenied(StorageError):
    status_code = 403


class EndpointUnreachable(StorageError):
    status_code = 503


class DataError(AdaptmlError):
    status_code = 422


class RegistryError(AdaptmlError):
    status_code = 503


class NoPublishedVersion(RegistryError):
    status_code = 503


class IntegrityError(RegistryError):
    status_code = 503


class RefusedVersion(RegistryError):
    """Retrying the same version would not help: wait for LATEST to change."""

    status_code = 503


class InputError(AdaptmlError):
    status_code = 400


class UnsupportedMediaType(InputError):
    status_code = 415


class PayloadTooLarge(InputError):
    status_code = 413


class NotReady(AdaptmlError):
    status_code = 503


class Unauthenticated(AdaptmlError):
    status_code = 401


class PermissionDenied(AdaptmlError):
    status_code = 403


class EngineUnavailable(AdaptmlError):
    """Scheduler unreachable or workers lost; the caller falls back to predicting in-process."""

    status_code = 503


class StoreGone(AdaptmlError):
    """Internal: never reaches a client (the watcher thread ends quietly)."""

    status_code = 500


class BadCells(InputError):
    """Several cells of one input cannot be read: ``problems`` lists the first of them (row from 1, column, value,
    what was expected) and ``total`` counts them all, so a client can fix a whole file in one round."""

    status_code = 400

    def __init__(self, message: str, *, problems: list[dict[str, object]], total: int, details: object = None) -> None:
        super().__init__(message, details=details)
        self.problems = problems
        self.total = total
