"""A PredictionResult as a table (for the page and the CSV download), as JSON, and as MLflow's response.

The page shows the first rows of exactly the table the CSV holds; the CSV is written by ``safe_csv.py`` (formula-like
cells neutralised), whose names are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from adaptml.jsonable import to_python
from adaptml.serving.loaded import ModelInfo
from adaptml.serving.predict import ModelOutput, PredictionResult
from adaptml.serving.safe_csv import FORMULA_PREFIXES, safe_cell, to_safe_csv

__all__ = [
    "FORMULA_PREFIXES",
    "Cell",
    "DisplayTable",
    "Header",
    "ModelCard",
    "display_table",
    "mlflow_payload",
    "model_cards",
    "result_payload",
    "results_frame",
    "safe_cell",
    "error_summary",
    "to_python",
    "to_safe_csv",
    "warning_list",
]


def _column_names(output: ModelOutput) -> tuple[str, list[str]]:
    return f"{output.name}_prediction", [f"{output.name}_proba_{label}" for label in output.classes]


def _prediction_cells(output: ModelOutput) -> list[Any]:
    cells = [to_python(value) for value in output.predictions]
    for row, message in output.errors.items():
        cells[row] = f"error: {message}"
    return cells


def results_frame(result: PredictionResult) -> pd.DataFrame:
    """Each model (by rank): its prediction and, for classifiers, class probabilities; then the input columns.

    Predictions come first so they stay in view beside the row number, however many input columns there are.
    """
    columns: dict[str, Any] = {}
    for output in result.outputs:
        prediction, probability_names = _column_names(output)
        columns[prediction] = _prediction_cells(output)
        if output.probabilities is not None:
            for index, name in enumerate(probability_names):
                columns[name] = output.probabilities[:, index]
    for name in result.inputs.columns:
        columns.setdefault(str(name), result.inputs[name].to_numpy())
    return pd.DataFrame(columns)


def result_payload(result: PredictionResult) -> dict[str, Any]:
    """The JSON response of /api/v1/predict: version, models with rank and metric, every model per row."""
    per_model = {output.name: _prediction_cells_json(output) for output in result.outputs}
    probabilities = {
        output.name: _probability_rows(output) for output in result.outputs if output.probabilities is not None
    }
    rows = []
    for index in range(result.row_count):
        row: dict[str, Any] = {"row": index + 1, "predictions": {name: v[index] for name, v in per_model.items()}}
        if probabilities:
            row["probabilities"] = {name: rows_[index] for name, rows_ in probabilities.items()}
        failed = {output.name: output.errors[index] for output in result.outputs if index in output.errors}
        if failed:
            row["errors"] = failed
        rows.append(row)
    return {
        "project": result.project,
        "version": result.version,
        "task": result.task,
        "engine": result.engine,
        "row_count": result.row_count,
        "error_count": result.error_count,
        "warnings": warning_list(result),
        "warnings_omitted": result.input_warnings.omitted,
        "extra_columns_ignored": list(result.extra_columns),
        "models": [
            {**info.to_dict(), "classes": [to_python(c) for c in output.classes] or None}
            for info, output in zip(result.models, result.outputs, strict=True)
        ],
        "rows": rows,
    }


def warning_list(result: PredictionResult) -> list[dict[str, Any]]:
    """The engine's notes (no row or column) first, then each input cell unlike the training data."""
    engine = [{"row": None, "column": None, "kind": "engine", "message": text} for text in result.warnings]
    return engine + [warning.to_dict() for warning in result.input_warnings.items]


def _prediction_cells_json(output: ModelOutput) -> list[Any]:
    return [to_python(value) for value in output.predictions]


def _probability_rows(output: ModelOutput) -> list[dict[str, Any] | None]:
    assert output.probabilities is not None
    labels = [str(label) for label in output.classes]
    rows: list[dict[str, Any] | None] = [
        dict(zip(labels, values, strict=True)) for values in output.probabilities.tolist()
    ]
    for index in output.errors:
        rows[index] = None
    return rows


def mlflow_payload(result: PredictionResult) -> dict[str, Any]:
    """MLflow's scoring response for the best-ranked model: ``{"predictions": [...]}``."""
    return {"predictions": _prediction_cells_json(result.outputs[0])}


@dataclass(frozen=True)
class Header:
    key: str
    label: str
    detail: str = ""
    model: bool = False
    pinned: bool = False  # an input column kept in view (sticky) when the table scrolls sideways


@dataclass(frozen=True)
class Cell:
    text: str
    title: str = ""
    error: bool = False
    number: bool = False

    def css(self, model: bool = False) -> str:
        names = ("num" if self.number else "", "cell-error" if self.error else "", "col-model" if model else "")
        return " ".join(name for name in names if name)


@dataclass(frozen=True)
class DisplayTable:
    headers: list[Header]
    rows: list[list[Cell]]
    total_rows: int

    @property
    def truncated(self) -> bool:
        return self.total_rows > len(self.rows)


def _cell(value: Any, digits: str = ".6g") -> Cell:
    """A value as text; a float's full precision stays in the title (and in the CSV)."""
    value = to_python(value)
    if value is None:
        return Cell("")
    if isinstance(value, float):
        return Cell(f"{value:{digits}}", title=repr(value), number=True)
    if isinstance(value, int) and not isinstance(value, bool):
        return Cell(str(value), number=True)
    return Cell(str(value))


def _headers(result: PredictionResult) -> list[Header]:
    infos = {info.name: info for info in result.models}
    headers = []
    for output in result.outputs:
        info = infos[output.name]
        prediction, probability_names = _column_names(output)
        rank = f"#{info.rank} · " if info.rank is not None else ""
        headers.append(Header(prediction, output.name, f"{rank}{info.label}", model=True))
        for name, label in zip(probability_names, output.classes, strict=True):
            headers.append(Header(name, f"P({label})", output.name, model=True))
    return headers + [Header(str(name), str(name)) for name in result.inputs.columns]


def display_table(result: PredictionResult, limit: int, *, inputs_first: bool = False) -> DisplayTable:
    """The first ``limit`` rows of the results table, formatted for the page (Jinja escapes every cell).

    ``inputs_first`` (the web page) puts the input columns before the models' and rounds probabilities to 3
    decimals; the terminal keeps the CSV's order (predictions first), where a narrow screen cuts columns off.
    """
    frame = results_frame(result).head(limit)
    outputs = {name for output in result.outputs for name in (_column_names(output)[0], *_column_names(output)[1])}
    inputs = [str(name) for name in result.inputs.columns if str(name) not in outputs]
    if inputs_first:
        frame = frame[inputs + [key for key in frame.columns if key not in inputs]]
    failed = {
        (row, _column_names(output)[0]): message for output in result.outputs for row, message in output.errors.items()
    }
    rounded = {name for output in result.outputs for name in _column_names(output)[1]} if inputs_first else set()
    keys = list(frame.columns)
    rows = []
    for index, record in enumerate(frame.itertuples(index=False, name=None)):
        cells = []
        for key, value in zip(keys, record, strict=True):
            message = failed.get((index, key))
            digits = ".3f" if key in rounded else ".6g"
            cells.append(Cell("error", title=message, error=True) if message is not None else _cell(value, digits))
        rows.append(cells)
    by_key = {header.key: header for header in _headers(result)}
    return DisplayTable(
        [replace(by_key[key], pinned=inputs_first and key in inputs) for key in keys], rows, result.row_count
    )


@dataclass(frozen=True)
class ModelCard:
    """One model's answer for a single record: the prediction, and class probabilities when it has them."""

    info: ModelInfo
    prediction: Cell
    probabilities: tuple[tuple[str, float], ...] = ()


def model_cards(result: PredictionResult) -> list[ModelCard]:
    """Cards for a one-record result (empty for batches, which the table shows)."""
    if result.row_count != 1:
        return []
    cards = []
    for info, output in zip(result.models, result.outputs, strict=True):
        if 0 in output.errors:
            cards.append(ModelCard(info, Cell("error", title=output.errors[0], error=True)))
            continue
        probabilities: tuple[tuple[str, float], ...] = ()
        if output.probabilities is not None:
            probabilities = tuple(
                (str(label), float(p)) for label, p in zip(output.classes, output.probabilities[0], strict=True)
            )
        cards.append(ModelCard(info, _cell(output.predictions[0]), probabilities))
    return cards


def error_summary(result: PredictionResult, limit: int = 10) -> list[tuple[str, int, str]]:
    """The first failing cells as (model, row number from 1, message), for the note under the table."""
    failed = sorted((row, output.name, message) for output in result.outputs for row, message in output.errors.items())
    return [(name, row + 1, message) for row, name, message in failed[:limit]]
