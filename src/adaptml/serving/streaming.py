"""Big batches answered as CSV chunk by chunk: memory bounded by one chunk's work, not by the whole result.

A 600,000-row upload would otherwise hold every model's outputs, the results table and its CSV text at once.
Every chunk is validated before the first byte is sent (a bad value is still a 4xx naming its row in the whole
file), then the chunks are predicted with one model version and written with the same CSV writer, the header once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd

from adaptml.schema import Schema
from adaptml.serving.predict import PredictionResult, prepare_input
from adaptml.serving.tables import results_frame, to_safe_csv

__all__ = ["STREAM_ROWS", "check_chunks", "chunk_bounds", "stream_csv"]

STREAM_ROWS = 50_000  # rows per chunk, and the batch size from which a CSV answer is streamed


def chunk_bounds(rows: int, size: int = STREAM_ROWS) -> list[tuple[int, int]]:
    return [(start, min(start + size, rows)) for start in range(0, rows, size)]


def check_chunks(schema: Schema, frame: pd.DataFrame, size: int = STREAM_ROWS) -> None:
    """Validate every chunk as a request of its own would be (an InputError names the row in the whole file)."""
    for start, stop in chunk_bounds(len(frame), size):
        prepare_input(schema, frame.iloc[start:stop], row_offset=start + 1)


def stream_csv(
    predict: Callable[[pd.DataFrame], PredictionResult], frame: pd.DataFrame, size: int = STREAM_ROWS
) -> Iterator[bytes]:
    """The results table of ``frame`` as CSV, predicted and written one chunk at a time (pyarrow's writer)."""
    for index, (start, stop) in enumerate(chunk_bounds(len(frame), size)):
        result = predict(frame.iloc[start:stop].reset_index(drop=True))
        yield to_safe_csv(results_frame(result), arrow=True, header=index == 0)
