"""Deriving a version's fast paths: compile each model, gate it against its pickled pipeline, keep what passes.

Runs off the request path (the store serves the pipelines meanwhile, then swaps in the upgraded set). The gate
scores its records both as one batch and as small requests do (one at a time, then a few at a time), since tree
models take their table walk for small requests and their library's call for batches: both must agree. The
pickled side runs as served without a fast path (the shared pipeline tails on the typed records, inside one
``shared_work()``), so common steps run once and the ensemble reuses its members' outputs instead of recomputing
them: the same fitted objects on the same values, so the same numbers. Sharing steps between models (which hashes
big fitted steps) is set up here too, so a new version is served as soon as it is verified and smoke-tested.

A version whose model pickles (by sha256), gate records and schema are those of the served, already derived
version takes that version's gated fast paths as they are (``carry_fast_paths``): the same bytes give the same
objects, the same compiled scorers and the same gate verdicts, so republishing does not derive or gate again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from adaptml.serving.compiled.columns import CompileRefused
from adaptml.serving.compiled.estimators import TABLE_ROWS
from adaptml.serving.compiled.gate import GATE_FILE, TOLERANCE, FastPath, compare, gate_records
from adaptml.serving.compiled.scorer import CompiledModel, compile_model
from adaptml.serving.loaded import MODEL_PREFIX, MODEL_SUFFIX, LoadedModels, model_input
from adaptml.serving.predict import ModelOutput, combine_outputs, predict_model
from adaptml.serving.sharing import share_steps, shared_work
from adaptml.serving.threads import single_threaded

__all__ = ["carry_fast_paths", "derive_fast_paths", "fast_key"]

log = logging.getLogger(__name__)
SINGLE_GATE_RECORDS = 8  # gate records also scored one by one, as single-record requests are


@dataclass(frozen=True)
class _Gate:
    """The gate records raw and typed, and the typed records cut as small requests come (the same objects for
    every model, so an ensemble's members' outputs on them are computed once)."""

    raw: pd.DataFrame
    typed: pd.DataFrame
    source: str
    parts: tuple[pd.DataFrame, ...]


def _gate_one(models: LoadedModels, name: str, gate: _Gate, cache: dict[str, CompiledModel]) -> tuple[FastPath, Any]:
    try:
        fast = compile_model(models.predictors.get(name), cache)
    except CompileRefused as error:
        return FastPath(False, str(error), gate=gate.source), None
    except Exception as error:  # noqa: BLE001 - a model the compiler chokes on keeps its pipeline
        return FastPath(False, f"cannot compile: {type(error).__name__}: {error}", gate=gate.source), None
    predictor, takes_typed = models.predictor(name)  # the pipeline as served without a fast path
    pickled = predict_model(name, predictor, gate.typed if takes_typed else gate.raw)
    tolerance = TOLERANCE.get(fast.family, 0.0)
    reason, largest = None, 0.0
    for compiled in (predict_model(name, fast, gate.typed), _in_small_parts(name, fast, gate.parts)):
        reason, difference = compare(compiled, pickled, classes=bool(pickled.classes), tolerance=tolerance)
        largest = difference if difference != difference else max(largest, difference)
        if reason is not None:
            break
    shown = None if largest != largest else largest  # NaN: not compared
    enabled = reason is None
    return FastPath(enabled, reason, fast.family, gate.source, len(gate.raw), shown), fast if enabled else None


def _small_parts(typed: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """The records as requests send them: the first one at a time, the rest ``TABLE_ROWS`` at a time (the row
    counts for which tree models walk their tables instead of calling their library)."""
    bounds = [*range(min(SINGLE_GATE_RECORDS, len(typed))), *range(SINGLE_GATE_RECORDS, len(typed), TABLE_ROWS)]
    ends = [*bounds[1:], len(typed)]
    return tuple(typed.iloc[a:b].reset_index(drop=True) for a, b in zip(bounds, ends, strict=True))


def _in_small_parts(name: str, fast: CompiledModel, parts: tuple[pd.DataFrame, ...]) -> ModelOutput:
    outputs = [predict_model(name, fast, part) for part in parts]
    return combine_outputs(outputs, [len(part) for part in parts])


def fast_key(models: LoadedModels) -> str:
    """What a version's fast paths follow from: its models' pickles (the manifest's verified sha256), its gate
    records and its schema. "" when a model's sha256 is not listed (such a version's paths are never carried)."""
    listed = models.manifest.get("files") or {}
    parts = []
    for name in sorted(models.models):
        sha = (listed.get(f"{MODEL_PREFIX}{name}{MODEL_SUFFIX}") or {}).get("sha256")
        if not isinstance(sha, str) or not sha:
            return ""
        parts.append(f"{name}={sha}")
    for path in (GATE_FILE, "schema.json"):
        parts.append(f"{path}={hashlib.sha256(models.files.get(path) or b'').hexdigest()}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def carry_fast_paths(models: LoadedModels, previous: LoadedModels | None) -> LoadedModels | None:
    """``models`` with the gated fast paths (and shared steps) of ``previous`` when both follow from the same
    pickles, gate records and schema and ``previous`` was derived; else None (derive them)."""
    if previous is None or previous.fast_paths is None or not previous.fast_key:
        return None
    if fast_key(models) != previous.fast_key or set(previous.predictors) - set(models.models):
        return None
    return replace(
        models, predictors=dict(previous.predictors), fast_paths=dict(previous.fast_paths), fast_key=previous.fast_key
    )


def derive_fast_paths(models: LoadedModels) -> LoadedModels:
    """The same version with each model's compiled scorer wherever the gate passes, and why not elsewhere."""
    models = replace(models, predictors={**models.predictors, **share_steps(models.predictors)})
    records, source = gate_records(models.schema, models.files)
    raw = model_input(records)
    typed = models.schema.coerce(raw, strict=False).reset_index(drop=True)
    gate = _Gate(raw, typed, source, _small_parts(typed))
    paths: dict[str, FastPath] = {}
    compiled: dict[str, Any] = {}
    cache: dict[str, CompiledModel] = {}  # an ensemble's members are the other models: compiled once
    with single_threaded(), shared_work():  # thread pools on a busy host cost more than a few hundred rows
        for name in models.models:
            paths[name], fast = _gate_one(models, name, gate, cache)
            if fast is not None:
                compiled[name] = fast
    for name, path in paths.items():
        if not path.enabled:
            log.info("%s %s: no fast path for %s (%s)", models.project, models.version, name, path.reason)
    return replace(models, predictors={**models.predictors, **compiled}, fast_paths=paths, fast_key=fast_key(models))
