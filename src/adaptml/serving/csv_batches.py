"""A big CSV body read batch by batch, and each batch's results table written as CSV, both by pyarrow.

Reading: the header is peeked from the request stream; a thread spools the body to a temporary file as it arrives
(``_Spool``), and pyarrow's streaming reader parses blocks of ``BLOCK_BYTES`` from it; only the schema's columns are
kept, as text, the numeric ones cast to float64 when
every value is a number (else the schema's coercion reads the markers or names the bad value). A body that is not
plain UTF-8 text (UTF-16, Latin-1, a quoted header) is read whole instead, for the pandas reader.

Writing: the same cells, columns and quoting as ``tables.to_safe_csv(tables.results_frame(result), arrow=True)``: each
model's prediction (and class probabilities), then the input columns as read; formula-like text is prefixed with a
quote. Labels, probabilities and inputs go to arrow as whole arrays (the per-value Python conversion of the general
table costs seconds on 600,000 rows); only rows with an error message or a risky text cell are touched one by one.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from adaptml.errors import InputError
from adaptml.serving.arrow_csv import PANDAS_NA_VALUES
from adaptml.serving.loaded import LoadedModels
from adaptml.serving.parsing import check_unique_columns
from adaptml.serving.predict import ModelOutput, PredictionResult
from adaptml.serving.safe_csv import arrow_column
from adaptml.serving.tables import safe_cell, to_python
from adaptml.serving.validation import check_width

__all__ = ["BLOCK_BYTES", "BatchTable", "UploadStream", "arrow_problem", "batch_csv", "frame_table", "open_upload"]

BLOCK_BYTES = 1 << 20  # pyarrow's block: about 10,000 rows of a 13-column file per batch
HEADER_BYTES = 1 << 20  # the header line must end within the first MiB

# tables.FORMULA_AT_LINE_START in RE2 syntax (no lookbehind): a formula character at the start or after a break
RISKY = "(^|[\\n\\r\\x{0b}\\x{0c}\\x{1c}\\x{1d}\\x{1e}\\x{85}\\x{2028}\\x{2029}])[=+\\-@\\t\\r]"


class _Spool(io.RawIOBase):
    """The request body copied to a temporary file by a thread, as fast as the client sends it; read from there.

    The answer is written while the body still arrives. A client that sends everything before it reads (most do)
    would otherwise stall once the answer fills the socket's buffers, and the server stall reading with it; and
    gunicorn's read deadlines would count the scoring time. The file holds the body on disk, never in memory.
    """

    def __init__(self, head: bytes, stream: Any) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the reader (pyarrow owns it)
        self._file.write(head)
        self._size, self._read_at = len(head), 0
        self._done, self._error = False, cast(BaseException | None, None)
        self._changed = threading.Condition()
        threading.Thread(target=self._copy, args=(stream,), name="adaptml-upload-spool", daemon=True).start()

    def _copy(self, stream: Any) -> None:
        try:
            while piece := stream.read(1 << 20):
                with self._changed:
                    self._file.seek(self._size)
                    self._file.write(piece)
                    self._size += len(piece)
                    self._changed.notify_all()
        except BaseException as error:  # noqa: BLE001 - raised to the reader (a 413, a client gone)
            self._error = error
        finally:
            with self._changed:
                self._done = True
                self._changed.notify_all()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        with self._changed:
            while self._read_at >= self._size and not self._done:
                self._changed.wait()
            if self._read_at >= self._size:
                if self._error is not None:
                    raise self._error
                return 0
            self._file.seek(self._read_at)
            size = self._file.readinto(view[: self._size - self._read_at])
            self._read_at += size
            return size

    def close(self) -> None:
        self._file.close()
        super().close()


def _peek_header(stream: Any) -> bytes:
    """The start of the body, read until its first line ends (or ``HEADER_BYTES`` were read)."""
    head = b""
    while b"\n" not in head and len(head) < HEADER_BYTES:
        piece = stream.read(64 * 1024)
        if not piece:
            break
        head += piece
    return head


def _header_names(head: bytes) -> tuple[list[str], str] | None:
    """The header's column names and delimiter; None when the text read so far is not plain UTF-8 CSV with a plain
    header (then the body is read whole, and the pandas reader decodes Latin-1 or UTF-16 and unquotes names)."""
    import codecs
    import csv

    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:8192] or b'"' in line:
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a character cut at the end is fine
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    sep = "," if "," in text else max((";", "\t", "|"), key=text.count)
    if not text.count(sep):
        sep = ","
    return next(csv.reader([text], delimiter=sep), []), sep


@dataclass(frozen=True)
class UploadStream:
    """A CSV body being read batch by batch: the schema's columns, numbers as float64 where they all are."""

    reader: Any
    names: tuple[str, ...]
    numeric: frozenset[str]
    target: str | None = None  # the target column, when the body has one (read for metrics, never fed to models)

    def batches(self) -> Iterator[Any]:
        """pyarrow RecordBatches, the schema's numeric columns (and the target) cast to float64 when every value is
        a number (the target as pandas would read it: 1 and "1.0" the same label)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        for batch in self.reader:
            arrays = []
            for name, column in zip(batch.schema.names, batch.columns, strict=True):
                if name in self.numeric or name == self.target:
                    # markers or bad values keep the text: the schema's coercion reads (or names) them
                    with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        column = pc.cast(column, pa.float64())
                arrays.append(column)
            yield pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)

    def split(self, batch: Any) -> tuple[Any, np.ndarray | None]:
        """A batch's model inputs, and its target values as sent (None without a target column)."""
        if self.target is None:
            return batch, None
        index = batch.schema.get_field_index(self.target)
        return batch.remove_column(index), batch.column(index).to_numpy(zero_copy_only=False)


def open_upload(stream: Any, models: LoadedModels) -> UploadStream | bytes:
    """Start reading a CSV body: the reader, or the whole body when it is not plain UTF-8 text."""
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    head = _peek_header(stream)
    if not head.strip():
        raise InputError('empty request body: send a JSON object, {"records": [...]}, or CSV text')
    found = _header_names(head)
    if found is None:
        return head + stream.read()
    names, sep = found
    check_unique_columns([name for name in names if name], "the CSV body")
    check_width(models.schema, pd.DataFrame(columns=names))
    wanted = [name for name in models.schema.names if name in names] or names[:1]
    target = models.schema.target if models.schema.target in names and models.schema.target not in wanted else None
    numeric = frozenset(spec.name for spec in models.schema.columns if spec.kind == "numeric")
    raw = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    try:
        reader = arrow_csv.open_csv(
            io.BufferedReader(_Spool(raw, stream), buffer_size=1 << 20),
            read_options=arrow_csv.ReadOptions(block_size=BLOCK_BYTES, use_threads=True),
            parse_options=arrow_csv.ParseOptions(delimiter=sep, newlines_in_values=False),
            convert_options=arrow_csv.ConvertOptions(
                include_columns=[*wanted, *([target] if target else [])],
                column_types=dict.fromkeys([*wanted, *([target] if target else [])], pa.string()),
                null_values=list(PANDAS_NA_VALUES),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as error:
        raise InputError(f"the CSV body is not a readable CSV: {arrow_problem(error)}") from error
    return UploadStream(reader, tuple(wanted), numeric, target)


def arrow_problem(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.removeprefix("CSV parse error: ")[:200]


@dataclass(frozen=True)
class BatchTable:
    """A batch's inputs as read (a pyarrow RecordBatch of the schema's columns) and its prediction result."""

    inputs: Any
    result: PredictionResult


def _text(values: list[Any]) -> Any:
    import pyarrow as pa

    return pa.array([None if value is None or value != value else str(value) for value in values], type=pa.string())


def _prediction_array(output: ModelOutput) -> Any:
    """The prediction column: numbers as numbers, labels as text, ``error: ...`` in the rows that failed."""
    import pyarrow as pa

    if not output.errors and output.classes and all(type(label) is str for label in output.classes):
        return pa.array(output.predictions, type=pa.string())  # text labels, as the general path below types them
    if output.errors:
        cells = [to_python(value) for value in output.predictions]
        for row, message in output.errors.items():
            cells[row] = f"error: {message}"
        values = pd.Series(cells).infer_objects()
    else:
        values = pd.Series(output.predictions, dtype=object).infer_objects()
    if pd.api.types.is_float_dtype(values) or pd.api.types.is_integer_dtype(values):
        return pa.array(values.to_numpy(), from_pandas=True)
    if pd.api.types.is_string_dtype(values):
        try:
            return pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return _text(values.tolist())


def _safe(array: Any) -> Any:
    """Text cells a spreadsheet would run as a formula, prefixed with a quote (as ``tables.safe_cell``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    risky = pc.match_substring_regex(array, RISKY)
    if not pc.any(risky).as_py():
        return array
    return pa.array([safe_cell(value) for value in array.to_pylist()], type=pa.string())


def _columns(table: BatchTable) -> dict[str, Any]:
    import pyarrow as pa

    columns: dict[str, Any] = {}
    for output in table.result.outputs:
        columns[f"{output.name}_prediction"] = _prediction_array(output)
        if output.probabilities is not None:
            probabilities = np.asarray(output.probabilities, dtype="float64")
            for index, label in enumerate(output.classes):
                columns[f"{output.name}_proba_{label}"] = pa.array(probabilities[:, index], from_pandas=True)
    for name, column in zip(table.inputs.schema.names, table.inputs.columns, strict=True):
        if pa.types.is_null(column.type):
            column = pa.nulls(len(column), pa.float64())
        columns.setdefault(str(name), column)
    return columns


def frame_table(inputs: pd.DataFrame) -> Any:
    """A parsed frame's input columns as the pyarrow batch ``batch_csv`` writes back, each column converted as
    ``safe_csv.to_safe_csv`` converts it (numbers as numbers, text as text, anything else as its ``str``)."""
    import pyarrow as pa

    names = [str(name) for name in inputs.columns]
    return pa.RecordBatch.from_arrays([arrow_column(inputs[name]) for name in inputs.columns], names=names)


def batch_csv(table: BatchTable, *, header: bool) -> bytes:
    """The batch's rows of the results table as CSV bytes (the header row first when ``header``)."""
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    columns = _columns(table)
    arrays = [_safe(array) for array in columns.values()]
    names = [str(safe_cell(name)) for name in columns]
    sink = pa.BufferOutputStream()
    options = arrow_csv.WriteOptions(quoting_style="needed", include_header=header)
    arrow_csv.write_csv(pa.Table.from_arrays(arrays, names=names), sink, options)
    return bytes(sink.getvalue())
