"""Big CSV uploads answered as CSV while they arrive: memory bounded by a few batches, not by the upload.

A CSV body (``Accept: text/csv``) of ``STREAM_BYTES`` or more, or sent chunked, is read from the request stream
block by block by pyarrow's streaming CSV reader; each batch is validated with the version's schema and scored by
every model (the compiled scorers, on the Dask cluster when there is one), ``SCORERS`` batches at once while the
batch before them is written out as CSV by pyarrow, the header once. At most ``SCORERS + 2`` batches exist at a
time (one read, those scoring, one written).

Errors: the header (missing, repeated or too many columns) and the first ``FIRST_ROWS`` rows are checked before
the response starts, so a bad file is still a 4xx naming its row and column. A problem found later (a bad value in
row 400,000, more than ``serving.max_rows`` rows, the size limit reached by a chunked body) can no longer change the
status: the answer then ends with one trailer line, ``#error: row N, column 'c': ...``, after the rows already
answered, and the rows before it are complete and correct. A body that is not UTF-8 text is read whole and answered
as before.

A body read whole (a multipart upload, a CSV body under ``STREAM_BYTES``) answered as CSV with more than
``STREAM_ROWS`` rows is scored and written by the same pipeline (``stream_frame``), in batches of
``FRAME_BATCH_ROWS``; every batch is validated before the answer starts, so a bad value in any row is still a 4xx
naming it, and the answer carries no trailer (as the answer to a smaller frame).

Metrics: a body with the target column (never fed to the models) is scored as a body read whole is
(``target_metrics``); a status or header cannot carry what is known only at the end, so a complete answer then
ends with one line ``#metrics: {...}``, the JSON the JSON answer gives as ``metrics``. The metrics rank every row
(AUC), so the usable targets and the models' outputs on them are kept until the end: float64, about 8 bytes per
row, model and class, within ``serving.max_rows``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd
from flask import Response
from werkzeug.exceptions import HTTPException

from adaptml.errors import AdaptmlError, EngineUnavailable, InputError
from adaptml.serving.csv_batches import BatchTable, UploadStream, arrow_problem, batch_csv, frame_table, open_upload
from adaptml.serving.limits import check_csv_shape
from adaptml.serving.loaded import LoadedModels
from adaptml.serving.parsing import CSV
from adaptml.serving.predict import (
    ENGINE_DASK,
    ENGINE_DIRECT,
    BatchEngine,
    PredictionResult,
    PreparedInput,
    predict_direct,
    prepare_input,
    with_optional,
)
from adaptml.serving.state import VERSION_HEADER, ServingState
from adaptml.serving.target_metrics import TargetMetrics, TargetScorer
from adaptml.serving.threads import one_thread_per_call
from adaptml.serving.validation import width_limit
from adaptml.serving.warnings import input_warnings

__all__ = ["STREAM_ROWS", "stream_answer", "stream_frame", "stream_upload"]

STREAM_ROWS = 20_000  # a parsed frame of more rows, answered as CSV, is scored and written batch by batch
FRAME_BATCH_ROWS = 10_000  # rows per batch of a parsed frame: a few batches per core, each a short native call
ERROR_PREFIX = b"#error: "
METRICS_PREFIX = b"#metrics: "
SCORERS = 2  # batches scored at once (threads); more would only hold more batches in memory on two cores
FIRST_ROWS = 2_000  # rows scored before the answer starts: a bad early value is still a 4xx, the first byte quick


@dataclass(frozen=True)
class _Scored:
    """One batch: its first row's number in the file, its inputs (as read) and every model's outputs."""

    first_row: int
    table: Any
    result: PredictionResult
    target: Any = None  # the batch's target values as sent, when the body has a target column


def _frame(batch: Any) -> pd.DataFrame:
    """A batch as the pandas frame the prediction core validates (numbers as float64, text as objects)."""
    columns = zip(batch.schema.names, batch.columns, strict=True)
    return pd.DataFrame({name: column.to_numpy(zero_copy_only=False) for name, column in columns})


def score_batch(
    models: LoadedModels, batch: Any, first_row: int, dask: BatchEngine | None, target: Any = None
) -> _Scored:
    """Validate one batch (rows numbered from ``first_row``) and score it with every model of ``models``."""
    prepared = prepare_input(models.schema, _frame(batch), row_offset=first_row)
    return score_prepared(models, prepared, lambda: batch, first_row, dask, target)


def score_prepared(
    models: LoadedModels,
    prepared: PreparedInput,
    table: Callable[[], Any],
    first_row: int,
    dask: BatchEngine | None,
    target: Any = None,
) -> _Scored:
    """Score a validated batch with every model of ``models``; ``table()`` gives its inputs to write back (pyarrow,
    called after scoring)."""
    names = [info.name for info in models.infos]
    outputs, engine, warnings = None, ENGINE_DIRECT, tuple[str, ...]()
    if dask is not None:
        try:
            outputs, engine = dask.predict(models, prepared, names), ENGINE_DASK
        except EngineUnavailable as error:
            warnings = (f"the Dask cluster is unavailable ({error}); predicted directly instead",)
    if outputs is None:
        outputs = predict_direct(models, prepared, names)
    result = PredictionResult(
        models.project,
        models.version,
        models.task,
        models.infos,
        outputs,
        given=lambda: prepared.inputs,
        engine=engine,
        warnings=warnings,
        extra_columns=prepared.extras,
        input_warnings=input_warnings(models.schema, prepared.columns),
    )
    return _Scored(first_row, table(), result, target)


def stream_upload(
    upload: UploadStream,
    models: LoadedModels,
    *,
    dask: BatchEngine | None,
    max_rows: int,
    observe: Callable[[PredictionResult], None] = lambda result: None,
) -> Iterator[bytes]:
    """The answer's CSV bytes, batch by batch; the first ``FIRST_ROWS`` rows are scored before this returns (errors
    there raise), so the answer starts quickly; the rest of the first batch follows as a batch of its own.

    ``SCORERS`` batches score at once in threads (the scorers and Dask release the GIL) while the batch before them
    is written, each with its libraries on one thread: on a small host, batches in parallel use the cores better
    than one batch's library threads, which also wait on each other when the host is busy.
    """
    batches = upload.batches()
    rows = 0

    def next_batch() -> Any | None:
        nonlocal rows
        try:
            batch = next(batches, None)
        except ValueError as error:  # pyarrow's ArrowInvalid: a ragged row, an unclosed quote, bad UTF-8
            raise InputError(f"the CSV body is not readable after row {rows:,}: {arrow_problem(error)}") from error
        if batch is not None:
            rows += batch.num_rows
            if rows > max_rows:
                raise InputError(f"too many rows: more than {max_rows:,} records (the serving.max_rows limit)")
        return batch

    first = next_batch()
    if first is None:
        raise InputError("the CSV body has a header but no data rows")
    inputs, target = upload.split(first.slice(0, FIRST_ROWS))
    scored = score_batch(models, inputs, 1, dask, target)
    rest = [first.slice(FIRST_ROWS)] if first.num_rows > FIRST_ROWS else []

    def following() -> Any | None:
        return rest.pop() if rest else next_batch()

    def score(batch: Any, row: int) -> _Scored:
        with one_thread_per_call():
            inputs, target = upload.split(batch)
            return score_batch(models, inputs, row, dask, target)

    metrics = TargetScorer(models.task_info, upload.target) if upload.target is not None else None

    def seen(done: _Scored) -> None:
        observe(done.result)
        if metrics is not None:
            metrics.add(done.target, done.result.outputs)

    def closing() -> bytes:
        return b"" if metrics is None else _metrics_trailer(metrics.result())

    return _pipeline(scored, following, score, seen, closing)


def _pipeline(
    scored: _Scored,
    next_batch: Callable[[], Any | None],
    score: Callable[[Any, int], _Scored],
    seen: Callable[[_Scored], None],
    closing: Callable[[], bytes],
) -> Iterator[bytes]:
    """The first rows at once; then up to ``SCORERS`` batches score while the one before them is written, in
    order, and ``closing()`` after the last. An error ends the answer with a trailer line after every row scored
    before it instead."""
    pool = ThreadPoolExecutor(SCORERS, thread_name_prefix="adaptml-stream")
    pending: deque[Future[_Scored]] = deque()
    row, failure, exhausted = scored.first_row + scored.table.num_rows, None, False
    try:
        seen(scored)
        yield batch_csv(BatchTable(scored.table, scored.result), header=True)
        while True:
            while not exhausted and failure is None and len(pending) < SCORERS:
                try:
                    batch = next_batch()
                except Exception as error:  # noqa: BLE001 - too late for a status: the answer ends with it
                    failure = error
                    break
                if batch is None:
                    exhausted = True
                    break
                pending.append(pool.submit(score, batch, row))
                row += batch.num_rows
            if not pending:
                break
            done = pending.popleft().result()
            seen(done)
            yield batch_csv(BatchTable(done.table, done.result), header=False)
        yield _trailer(failure) if failure is not None else closing()
    except Exception as error:  # noqa: BLE001 - a batch that failed to score: the answer ends with it
        yield _trailer(error)
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


def _metrics_trailer(metrics: TargetMetrics) -> bytes:
    """The line that ends a complete answer to a body with the target column: every model's metrics, as JSON."""
    return METRICS_PREFIX + json.dumps(metrics.to_dict(), separators=(",", ":")).encode("utf-8") + b"\n"


def _trailer(error: BaseException) -> bytes:
    """The line that ends an answer cut short by an error found after its first rows were sent."""
    if isinstance(error, AdaptmlError):
        text = str(error)
    elif isinstance(error, HTTPException):
        text = f"{error.code} {error.name}: {error.description}"
    else:
        text = f"the rows after these could not be answered ({type(error).__name__})"
    return ERROR_PREFIX + " ".join(text.split()).encode("utf-8", "replace") + b"\n"


def stream_answer(state: ServingState, models: LoadedModels, stream: Any) -> Response | bytes:
    """The streamed CSV answer to a CSV body read from ``stream``, or the whole body when it must be read whole."""
    upload = open_upload(stream, models)
    if isinstance(upload, bytes):  # checked as the limits check any body read whole
        check_csv_shape(upload, width=width_limit(models.schema), max_rows=state.settings.serving.max_rows)
        return upload
    chunks = stream_upload(
        upload, models, dask=state.dask, max_rows=state.settings.serving.max_rows, observe=state.metrics.observe
    )
    return _csv_response(models, chunks)


def stream_frame(state: ServingState, models: LoadedModels, frame: pd.DataFrame) -> Response:
    """The CSV answer to a parsed frame (a multipart upload, a CSV body read whole), scored as an upload is:
    ``SCORERS`` batches of ``FRAME_BATCH_ROWS`` rows at once, one library thread each, while the one before is written.

    Every batch is validated before the answer starts, so a bad value anywhere is a 4xx naming its row in the
    file; the rest of the answer then cannot fail on its input (a model failing a row answers ``error: ...``).
    """
    frame = with_optional(frame.rename(columns=str), models.unused_columns)
    # a small first batch (a quick first byte), then batches of FRAME_BATCH_ROWS
    starts = [0, *range(min(FIRST_ROWS, len(frame)), len(frame), FRAME_BATCH_ROWS)]
    batches = deque(
        prepare_input(models.schema, frame.iloc[start:stop], row_offset=start + 1)
        for start, stop in zip(starts, [*starts[1:], len(frame)], strict=True)
    )

    def score(prepared: PreparedInput, row: int) -> _Scored:
        dask = state.dask if prepared.rows > state.settings.serving.dask_threshold else None
        with one_thread_per_call():
            return score_prepared(models, prepared, lambda: frame_table(prepared.inputs), row, dask)

    def next_batch() -> PreparedInput | None:
        return batches.popleft() if batches else None

    first = score(batches.popleft(), 1)
    chunks = _pipeline(first, next_batch, score, lambda done: state.metrics.observe(done.result), lambda: b"")
    return _csv_response(models, chunks)


def _csv_response(models: LoadedModels, chunks: Iterator[bytes]) -> Response:
    response = Response(chunks, mimetype=CSV)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{models.project}-{models.version}-predictions.csv"'
    )
    response.headers[VERSION_HEADER] = models.version
    return response
