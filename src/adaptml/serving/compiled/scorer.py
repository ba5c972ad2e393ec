"""A compiled record scorer per model: the typed frame in, the pickled pipeline's predictions out, over arrays.

Derived from the pipeline tail that follows the SchemaCoercer (serving validates with the same schema), as wrapped
by ``sharing.share_steps``: every step's chained key names the work, so inside ``shared_work()`` the columns, date
parts, encodings and member outputs that models have in common are computed once; an ensemble blends the outputs
its members (the other models) already computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from adaptml.serving.compiled.columns import CompileRefused, columns_frame, compile_head_step, frame_columns
from adaptml.serving.compiled.encoders import compile_encoder
from adaptml.serving.compiled.estimators import Output, compile_estimator
from adaptml.serving.sharing import SharedPipeline, remember
from adaptml.training.ensemble import EnsembleClassifier, EnsembleRegressor
from adaptml.training.evaluation import model_output
from adaptml.training.task import TaskInfo

__all__ = ["CompiledModel", "compile_model"]

COLUMNS_KEY = "fast:columns"
FRAME_KEY = "fast:typed-frame"  # the typed frame rebuilt from the columns, for members without a fast path


@dataclass(frozen=True)
class CompiledModel:
    """A fast path with the interface ``predict_model`` uses: ``predict``, ``predict_proba``, ``classes_``."""

    key: str
    family: str
    steps: tuple[tuple[str, Callable[[Any], Any]], ...]
    finish: Callable[[Any], Output]
    classes: tuple[Any, ...] = ()

    @property
    def classes_(self) -> np.ndarray:
        if not self.classes:
            raise AttributeError("classes_")
        return np.asarray(self.classes, dtype=object)

    @property
    def predict_proba(self) -> Callable[[Any], np.ndarray | None]:
        if not self.classes:
            raise AttributeError("predict_proba")
        return lambda frame: self.outputs(frame)[1]

    def outputs(self, frame: pd.DataFrame | dict[str, np.ndarray]) -> Output:
        """Labels or values, and probabilities for classifiers; shared work reused within ``shared_work()``."""
        data: Any = frame
        if isinstance(frame, pd.DataFrame):
            data = remember(COLUMNS_KEY, frame, lambda: frame_columns(frame))
        for key, step in self.steps:
            data = remember(key, data, lambda step=step, data=data: step(data))
        final = data
        return remember(f"{self.key}:fast", final, lambda: self.finish(final))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.outputs(frame)[0]


def _pipeline_parts(wrapped: Any) -> tuple[list[Any], list[str]]:
    if not isinstance(wrapped, SharedPipeline):
        raise CompileRefused("the pipeline's coercion does not use the version's schema")
    steps = [step for _, step in wrapped.pipeline.steps]
    if any(step in (None, "passthrough") for step in steps):
        raise CompileRefused("a passthrough step")
    return steps, list(wrapped.keys)


def compile_model(wrapped: Any, cache: dict[str, CompiledModel] | None = None) -> CompiledModel:
    """The fast path of one shared pipeline tail (dates -> select -> encode -> estimator, or an ensemble).

    ``cache`` (by the tail's chained key) lets an ensemble reuse its members' scorers, tree tables included."""
    steps, keys = _pipeline_parts(wrapped)
    if cache is not None and keys and keys[-1] in cache:
        return cache[keys[-1]]
    compiled = _compile(steps, keys, cache)
    if cache is not None and keys:
        cache[keys[-1]] = compiled
    return compiled


def _compile(steps: list[Any], keys: list[str], cache: dict[str, CompiledModel] | None) -> CompiledModel:
    final = steps[-1]
    if type(final) in (EnsembleRegressor, EnsembleClassifier):
        if len(steps) != 1:
            raise CompileRefused("steps before an ensemble")
        return _ensemble(final, keys[-1], cache)
    if len(steps) < 2:
        raise CompileRefused("no encoder before the estimator")
    head = [(f"{key}:fast", compile_head_step(step)) for step, key in zip(steps[:-2], keys, strict=False)]
    encoded = compile_encoder(steps[-2])
    scorer = compile_estimator(final, encoded)
    chain = (*head, (f"{keys[-2]}:fast", encoded.run))
    return CompiledModel(keys[-1], scorer.family, chain, scorer.run, scorer.classes)


def _member_output(member: CompiledModel, frame: Any, classes: tuple[Any, ...]) -> np.ndarray:
    """What ``training.evaluation.model_output`` gives: values, or probabilities aligned to ``classes``."""
    labels, proba = member.outputs(frame)
    if not classes:
        return np.asarray(labels, dtype="float64")
    assert proba is not None
    known = list(member.classes)
    if known == list(classes):
        return np.asarray(proba, dtype="float64")
    aligned = np.zeros((len(proba), len(classes)))
    for column, label in enumerate(classes):
        if label in known:
            aligned[:, column] = proba[:, known.index(label)]
    return aligned


def _compiled_member(member: CompiledModel, classes: tuple[Any, ...]) -> Callable[[Any], np.ndarray]:
    return lambda frame: _member_output(member, frame, classes)


def _pickled_member(member: Any, classes: tuple[Any, ...]) -> Callable[[Any], np.ndarray]:
    """A member the compiler refuses, called as the ensemble itself calls it (``model_output`` on the typed
    frame): the same fitted object, so the same numbers; the gate checks the blend as usual."""
    info = TaskInfo("classification", "roc_auc", True, classes) if classes else TaskInfo("regression", "rmse", False)
    return lambda columns: model_output(member, remember(FRAME_KEY, columns, lambda: columns_frame(columns)), info)


def _ensemble(final: Any, key: str, cache: dict[str, CompiledModel] | None) -> CompiledModel:
    """The blend of the members' outputs: compiled members' fast outputs (shared with the models themselves),
    and for a member the compiler refuses (e.g. CatBoost), its pickled pipeline on the typed frame."""
    members_by_name = dict(final.members or [])
    weights = dict(final.weights or {})
    classes = tuple(np.asarray(final.classes_).tolist()) if isinstance(final, EnsembleClassifier) else ()
    members: dict[str, Callable[[Any], np.ndarray]] = {}
    refused: list[str] = []
    for name in weights:
        try:
            compiled = compile_model(members_by_name[name], cache)
            members[name] = _compiled_member(compiled, classes)
        except CompileRefused as error:
            refused.append(f"{name}: {error}")
            members[name] = _pickled_member(members_by_name[name], classes)
    if len(refused) == len(members):
        raise CompileRefused(f"no ensemble member has a fast path ({refused[0]})")
    total = sum(weights.values())

    def blend(frame: Any) -> Output:
        outputs = {name: member(frame) for name, member in members.items()}
        blended: Any = sum(outputs[name] * (weight / total) for name, weight in weights.items())
        if not classes:
            return blended, None
        return np.asarray(final.classes_)[np.argmax(blended, axis=1)], blended

    return CompiledModel(key, "ensemble", (), blend, classes)
