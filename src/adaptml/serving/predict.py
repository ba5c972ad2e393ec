"""The prediction core: validated records in, every model's predictions out. Knows nothing of Flask or HTTP.

A model that fails on some rows only loses those rows: the batch is bisected to find them (``model_outputs.py``),
and the other models and rows are unaffected. Batches above a threshold go to an injected engine (Dask); if that
engine is unavailable the batch is predicted directly and the result says so.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd

from adaptml.errors import EngineUnavailable, InputError
from adaptml.schema import Schema
from adaptml.serving.cells import bad_cells, has_infinite
from adaptml.serving.coercion import coerce_strict
from adaptml.serving.compiled.columns import Columns, frame_columns
from adaptml.serving.compiled.records import coerce_records
from adaptml.serving.compiled.scorer import CompiledModel
from adaptml.serving.json_input import Records
from adaptml.serving.loaded import LoadedModels, ModelInfo, model_input
from adaptml.serving.model_outputs import ModelOutput, combine_outputs, predict_model
from adaptml.serving.sharing import shared_work
from adaptml.serving.target_metrics import TargetMetrics, score_target, target_values
from adaptml.serving.validation import check_columns_present
from adaptml.serving.warnings import InputWarnings, input_warnings

__all__ = [
    "ENGINE_DASK",
    "ENGINE_DIRECT",
    "BatchEngine",
    "ModelOutput",
    "PredictionResult",
    "PreparedInput",
    "combine_outputs",
    "predict_all",
    "predict_direct",
    "predict_model",
    "prepare_input",
    "with_optional",
]

ENGINE_DIRECT = "direct"
ENGINE_DASK = "dask"


@dataclass(frozen=True)
class PredictionResult:
    """What one request computed, wholly from one version."""

    project: str
    version: str
    task: str
    models: tuple[ModelInfo, ...]
    outputs: tuple[ModelOutput, ...]
    given: pd.DataFrame | Callable[[], pd.DataFrame] = field(repr=False)  # or what builds it, on first use
    engine: str = ENGINE_DIRECT
    warnings: tuple[str, ...] = ()
    extra_columns: tuple[str, ...] = ()
    input_warnings: InputWarnings = InputWarnings()  # cells unlike the training data, scored all the same
    target_metrics: TargetMetrics | None = None  # when the batch carried the target column

    @cached_property
    def inputs(self) -> pd.DataFrame:
        """The schema's columns as given (built only when a table or CSV shows them)."""
        return self.given if isinstance(self.given, pd.DataFrame) else self.given()

    @property
    def row_count(self) -> int:
        return len(self.outputs[0].predictions) if self.outputs else len(self.inputs)

    @property
    def error_count(self) -> int:
        return sum(len(output.errors) for output in self.outputs)

    def output(self, name: str) -> ModelOutput:
        for output in self.outputs:
            if output.name == name:
                return output
        raise KeyError(name)


class BatchEngine(Protocol):
    """Predicts a validated batch with the named models somewhere else (a Dask cluster)."""

    def predict(
        self, models: LoadedModels, prepared: PreparedInput, names: Sequence[str]
    ) -> tuple[ModelOutput, ...]: ...


@dataclass(frozen=True)
class PreparedInput:
    """A validated batch: the schema's columns as given, the typed frame or its columns, the unknown extras.

    Records typed without pandas carry their columns; the frames are built only if something asks for them
    (a model without a fast path, the Dask engine, a table of the inputs).
    """

    rows: int
    extras: tuple[str, ...]
    given: pd.DataFrame | Callable[[], pd.DataFrame] = field(repr=False)
    typed_frame: pd.DataFrame | None = field(default=None, repr=False)
    typed_columns: Columns | None = field(default=None, repr=False)

    @cached_property
    def inputs(self) -> pd.DataFrame:
        return self.given if isinstance(self.given, pd.DataFrame) else self.given()

    @property
    def num_rows(self) -> int:
        """``rows``, named as a pyarrow batch names it (the streamed answers count either)."""
        return self.rows

    @cached_property
    def typed(self) -> pd.DataFrame:
        if self.typed_frame is not None:
            return self.typed_frame
        assert self.typed_columns is not None
        columns = self.typed_columns
        return pd.DataFrame({name: pd.Series(values, dtype=values.dtype) for name, values in columns.items()})

    @cached_property
    def columns(self) -> Columns:
        return self.typed_columns if self.typed_columns is not None else frame_columns(self.typed)

    @property
    def records(self) -> pd.DataFrame:
        """The typed frame as raw records again, for pipelines that run their own SchemaCoercer."""
        return model_input(self.typed)


def prepare_input(
    schema: Schema, frame: pd.DataFrame | Records, *, row_offset: int = 1, optional: Collection[str] = ()
) -> PreparedInput:
    """Validate a raw frame (or JSON records) against the schema strictly: bad cells are a ``BadCells`` 400 listing
    each (row from ``row_offset``, column). Records the compiled path can type on its own skip pandas. Columns named
    in ``optional`` (no model uses them) may be absent: they are read as missing."""
    if isinstance(frame, Records):
        fast = coerce_records(schema, frame.rows, optional=optional)
        if fast is not None:
            names = schema.names
            given = frame  # only a table or CSV of the inputs needs the frame
            return PreparedInput(
                fast.rows,
                fast.extras,
                lambda: with_optional(given.frame(), optional)[names].reset_index(drop=True),
                None,
                fast.columns,
            )
        frame = frame.frame()
    if frame.shape[0] == 0:
        raise InputError("no records to predict: the input has no rows")
    frame = with_optional(frame.rename(columns=str), optional)
    check_columns_present(schema, frame)
    extras = tuple(schema.extra_columns(frame.columns))
    try:
        typed = coerce_strict(schema, frame, row_offset=row_offset)
    except InputError as error:
        if not isinstance(error.details, dict) or "column" not in error.details:
            raise  # not a cell (a missing column): nothing more to list
        raise bad_cells(schema, frame, error, row_offset) from error
    except (ValueError, TypeError, OverflowError) as error:  # e.g. a date pandas cannot represent
        raise bad_cells(schema, frame, error, row_offset) from error
    if has_infinite(schema, typed):
        raise bad_cells(schema, frame, None, row_offset)
    inputs = frame[schema.names].reset_index(drop=True)
    return PreparedInput(len(typed), extras, inputs, typed.reset_index(drop=True))


def with_optional(frame: pd.DataFrame, optional: Collection[str]) -> pd.DataFrame:
    """The frame with each optional column it lacks added as missing values (a new frame; the input is kept)."""
    absent = [name for name in optional if name not in frame.columns]
    return frame.assign(**dict.fromkeys(absent, np.nan)) if absent else frame


def predict_direct(models: LoadedModels, prepared: PreparedInput, names: Sequence[str]) -> tuple[ModelOutput, ...]:
    """Each named model on the whole batch in this process; steps the models have in common run once."""
    outputs = []
    with shared_work():
        for name in names:
            predictor, takes_typed = models.predictor(name)
            if isinstance(predictor, CompiledModel):
                outputs.append(_compiled_output(name, predictor, models.models[name], prepared))
            else:
                outputs.append(predict_model(name, predictor, prepared.typed if takes_typed else prepared.records))
    return tuple(outputs)


def _compiled_output(name: str, compiled: CompiledModel, pickled: Any, prepared: PreparedInput) -> ModelOutput:
    """The compiled scorer on the typed columns; if it fails, the pickled pipeline finds the failing rows."""
    try:
        labels, proba = compiled.outputs(prepared.columns)
        if len(labels) != prepared.rows:
            raise ValueError(f"returned {len(labels)} predictions for {prepared.rows} rows")
    except Exception:  # noqa: BLE001 - the pipeline of record decides, row by row
        return predict_model(name, pickled, prepared.records)
    predictions = np.empty(prepared.rows, dtype=object)
    predictions[:] = labels
    probabilities = None if proba is None else np.asarray(proba, dtype="float64")
    return ModelOutput(name, predictions, probabilities, compiled.classes)


def predict_all(
    models: LoadedModels,
    frame: pd.DataFrame | Records,
    *,
    dask: BatchEngine | None = None,
    dask_threshold: int = 10,
    model_names: Sequence[str] | None = None,
) -> PredictionResult:
    """Every model's (or the named models') predictions for a raw frame, computed from one version.

    Batches of more than ``dask_threshold`` rows go to ``dask`` when given; the result names the engine used.
    """
    infos = models.infos if model_names is None else tuple(i for i in models.infos if i.name in model_names)
    names = [info.name for info in infos]
    prepared = prepare_input(models.schema, frame, optional=models.unused_columns)
    noted = input_warnings(models.used_schema, prepared.columns)  # once, whichever path scores it; used columns only
    engine, warnings = ENGINE_DIRECT, []
    outputs: tuple[ModelOutput, ...] | None = None
    if dask is not None and prepared.rows > dask_threshold:
        try:
            outputs, engine = dask.predict(models, prepared, names), ENGINE_DASK
        except EngineUnavailable as error:
            warnings.append(f"the Dask cluster is unavailable ({error}); predicted directly instead")
    if outputs is None:
        outputs = predict_direct(models, prepared, names)
    return PredictionResult(
        project=models.project,
        version=models.version,
        task=models.task,
        models=infos,
        outputs=outputs,
        given=lambda: prepared.inputs,
        engine=engine,
        warnings=tuple(warnings),
        extra_columns=prepared.extras,
        input_warnings=noted,
        target_metrics=_target_metrics(models, frame, outputs),
    )


def _target_metrics(
    models: LoadedModels, frame: pd.DataFrame | Records, outputs: Sequence[ModelOutput]
) -> TargetMetrics | None:
    """Each model scored against the batch's own target column, when it has one (the models never saw it)."""
    raw = target_values(frame.rows if isinstance(frame, Records) else frame, models.schema.target)
    return None if raw is None else score_target(models.task_info, models.schema.target, raw, outputs)
