"""Request bounds checked before a body is parsed, so no request costs memory or CPU out of proportion to its rows.

- size: ``Content-Length`` (or the bytes read, when chunked) at most ``ServingSettings.max_content_length``, which is
  ``serving.max_upload_mb`` capped at ``ROW_BYTES`` per row of ``serving.max_rows``: a 413 naming the limit, sent
  before a byte of the body is read;
- shape: a record (a JSON object or array, a CSV line) averages at most ``RECORD_BYTES``, and a JSON object at most
  ``width_limit`` values, counted on the raw bytes (a 150 MiB one-record list or 5 MiB of keys is refused in
  milliseconds, where parsing it cost 1.8 GiB or 9 s of CPU); a CSV header names at most ``width_limit`` columns;
- rows: a CSV body with over twice ``serving.max_rows`` lines is refused before pandas reads a million of them
  (JSON's brackets are counted the same way by ``parsing.parse_json``);
- names: no column name longer than ``MAX_NAME_CHARS``.
A big CSV body answered as CSV (``is_streamed_upload``) is not read here: ``streaming.py`` reads it batch by batch
and applies the same size, width and row limits as it goes. After parsing, ``validation.check_width`` applies the
same width to the frame, whatever shape it came in.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from adaptml.errors import InputError, PayloadTooLarge
from adaptml.schema import Schema
from adaptml.serving.http_errors import too_large_response
from adaptml.serving.parsing import CSV, CSV_TYPES, JSON, JSON_TYPES, MULTIPART, check_rows, media_type
from adaptml.serving.validation import MAX_NAME_CHARS, MIN_WIDTH, width_limit

__all__ = ["RECORD_BYTES", "STREAM_BYTES", "check_csv_shape", "check_json_shape", "init_limits", "is_streamed_upload"]

RECORD_BYTES = 1024 * 1024  # the most one record (an object, an array row, a CSV line) may average
BOUNDED_ENDPOINTS = frozenset({"api.predict", "api.invocations", "pages.upload", "pages.predict_form"})
STREAM_BYTES = 4 << 20  # a CSV body this big (or sent chunked) and answered as CSV is streamed
LONG_KEY = re.compile(rb'"(?:[^"\\]|\\.){%d,}"\s*:' % (MAX_NAME_CHARS + 1))


def _too_sparse(total: int, records: int, what: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the {what} averages more than {RECORD_BYTES // 1024} KiB per record ({total:,} bytes for {records:,} "
        "records): send flat records of plain values",
        details={"limit": "record_bytes", "record_bytes": RECORD_BYTES},
    )


def _too_wide(width: int, what: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"too wide: {what} more than {width:,} columns (four times the model's, at least {MIN_WIDTH})",
        details={"limit": "columns", "columns": width},
    )


def check_json_shape(body: bytes, *, width: int) -> None:
    """Refuse, from byte counts alone, JSON whose records are huge or hold more than ``width`` values on average."""
    containers = body.count(b"{") + body.count(b"[")
    if containers and len(body) > containers * RECORD_BYTES:
        raise _too_sparse(len(body), containers, "JSON body")
    if containers and body.count(b",") > containers * width:  # values (keys and cells) are separated by commas
        raise _too_wide(width, "the JSON records (or rows) have")
    if LONG_KEY.search(body):
        raise InputError(f"a JSON key is longer than {MAX_NAME_CHARS} characters: keys are column names")


def check_csv_shape(data: bytes, *, width: int, max_rows: int) -> None:
    """Refuse CSV with over twice ``max_rows`` lines (quoted cells may hold line breaks), lines averaging over
    ``RECORD_BYTES``, or a header wider than ``width`` or with long names."""
    lines = max(data.count(b"\n"), data.count(b"\r")) + 1
    if lines > 2 * (max_rows + 1) + 1:
        check_rows(lines // 2, max_rows)
    if len(data) > lines * RECORD_BYTES:
        raise _too_sparse(len(data), lines, "CSV text")
    header = re.split(rb"[\r\n]", data[: RECORD_BYTES + 1], maxsplit=1)[0]
    separator = max((b",", b";", b"\t", b"|"), key=header.count)
    names = header.split(separator)
    if len(names) > width:
        raise _too_wide(width, "the CSV header names")
    if any(len(name) > MAX_NAME_CHARS * 4 for name in names):  # bytes: up to 4 per character in UTF-8
        raise InputError(f"a CSV column name is longer than {MAX_NAME_CHARS} characters")


def _body(limit: int | None) -> bytes:
    """The body, kept for the route; a chunked body that reaches the limit is a 413 (werkzeug stops reading there)."""
    data = request.get_data(cache=True)
    if request.content_length is None and limit is not None and len(data) >= limit:
        raise RequestEntityTooLarge()
    return data


def _check_body(width: int, limit: int | None, max_rows: int) -> None:
    kind = media_type(request.content_type)
    if kind == MULTIPART:
        for upload in request.files.values():
            check_csv_shape(upload.stream.read(), width=width, max_rows=max_rows)
            upload.stream.seek(0)
    elif kind in JSON_TYPES or kind.endswith("+json"):
        check_json_shape(_body(limit), width=width)
    elif kind in CSV_TYPES:
        check_csv_shape(_body(limit), width=width, max_rows=max_rows)


def is_streamed_upload() -> bool:
    """A CSV body to the predict API, answered as CSV, of ``STREAM_BYTES`` or more or of unknown length (chunked):
    read, scored and answered batch by batch (``streaming.py``), never held whole."""
    if request.endpoint != "api.predict" or media_type(request.content_type) not in CSV_TYPES:
        return False  # most requests: the Accept header is never parsed
    if request.content_length is not None and request.content_length < STREAM_BYTES:
        return False
    accept = request.accept_mimetypes
    return accept.best_match([JSON, CSV]) == CSV and accept[CSV] > accept[JSON]


def init_limits(app: Flask, schema_of: Callable[[], Schema | None], *, max_rows: int) -> None:
    """Check every prediction request's size, then its shape, before its route parses it. ``schema_of`` returns
    the served schema (or None), which sets the width allowed."""

    @app.before_request
    def _bounded() -> Response | None:
        if request.method != "POST" or request.endpoint not in BOUNDED_ENDPOINTS:
            return None
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if limit is not None and request.content_length is not None and request.content_length > limit:
            return too_large_response()  # before a byte of the body is read
        if is_streamed_upload():
            return None  # checked as it is read
        _check_body(width_limit(schema_of()), limit, max_rows)
        return None
