"""Work shared between the models of one version within one batch: identical pipeline steps run once.

Models trained together repeat steps (date parts, column selection, the native encoder) and an ensemble holds copies
of the other models' pipelines. At load time each fitted step that may equal another (same type and parameters) is
fingerprinted by its pickle, and each pipeline prefix gets a key chained from the fingerprints. Inside a
``shared_work()`` block, the output of a prefix for a given input object is computed once and reused by every model
(and ensemble member) with the same prefix. Outside such a block a ``SharedPipeline`` simply runs its pipeline.
Steps must be deterministic and must not modify their input, as scikit-learn's contract already requires.
"""

from __future__ import annotations

import copy
import hashlib
import io
import pickle
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["SharedPipeline", "remember", "share_steps", "shared_work"]

_MEMO: ContextVar[dict[tuple[str, int], tuple[Any, Any]] | None] = ContextVar("adaptml_shared_work", default=None)
_SKIPPED = (None, "passthrough")


@contextmanager
def shared_work() -> Iterator[None]:
    """Within this block, identical pipeline prefixes applied to the same input object run once."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def _fingerprint(step: Any) -> str:
    """The sha256 of a step's pickle, made without the memo so that equal values hash equally however their
    objects happen to be shared (two loads of one fitted step may differ only in that)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True
    try:
        pickler.dump(step)
    except Exception:  # noqa: BLE001 - an unpicklable (or self-referencing) step is simply never shared
        return f"unshared-{id(step)}"
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def _chain(previous: str, fingerprint: str) -> str:
    return hashlib.sha256(f"{previous}/{fingerprint}".encode()).hexdigest()


def remember(key: str, source: Any, compute: Any) -> Any:
    """``compute()`` once per key and source object within ``shared_work()``; outside it, every time."""
    memo = _MEMO.get()
    if memo is None:
        return compute()
    slot = (key, id(source))
    if slot not in memo:
        memo[slot] = (source, compute())  # the source is kept so its id cannot be reused within the block
    return memo[slot][1]


class SharedPipeline:
    """A fitted scikit-learn Pipeline whose step outputs are shared within ``shared_work()``; otherwise the same.

    Attributes it does not define (``classes_``, ``steps``, ...) are the pipeline's own.
    """

    def __init__(self, pipeline: Any, keys: list[str]) -> None:
        self.pipeline = pipeline
        self.keys = keys

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("pipeline", "keys"):
            raise AttributeError(name)
        return getattr(self.pipeline, name)

    def __len__(self) -> int:
        return len(self.pipeline)

    def predict(self, X: Any) -> Any:  # noqa: N803 - scikit-learn's naming
        return self._final("predict", X)

    @property
    def predict_proba(self) -> Any:
        if not hasattr(self.pipeline, "predict_proba"):
            raise AttributeError("predict_proba")
        return lambda frame: self._final("predict_proba", frame)

    def _transformed(self, X: Any) -> Any:  # noqa: N803
        data = X
        for (_, step), key in zip(self.pipeline.steps[:-1], self.keys, strict=False):
            if step in _SKIPPED:
                continue
            data = remember(key, data, lambda step=step, data=data: step.transform(data))
        return data

    def _final(self, method: str, X: Any) -> Any:  # noqa: N803
        data = self._transformed(X)
        final = self.pipeline.steps[-1][1]
        return remember(f"{self.keys[-1]}:{method}", data, lambda: getattr(final, method)(data))


def _signature(step: Any) -> str:
    """A cheap stand-in for equality: the step's type and parameters (fitted state aside)."""
    get_params = getattr(step, "get_params", None)
    try:
        params = repr(get_params(deep=False)) if get_params is not None else f"@{id(step)}"
    except Exception:  # noqa: BLE001 - an odd estimator is simply never shared
        params = f"@{id(step)}"
    return f"{type(step).__module__}.{type(step).__qualname__}({params})"


class _Fingerprints:
    """Fingerprints of fitted steps. Only a step whose type and parameters some other step shares can equal it,
    so only those pay for hashing their pickle (tens of MB for big forests and boosters); the rest stay unique."""

    def __init__(self, steps: Iterable[Any]) -> None:
        self._counts = Counter(_signature(step) for step in steps)
        self._known: dict[int, str] = {}

    def __call__(self, step: Any) -> str:
        if id(step) not in self._known:
            shared = self._counts[_signature(step)] > 1
            self._known[id(step)] = _fingerprint(step) if shared else f"unique-{id(step)}"
        return self._known[id(step)]


def _wrap(pipeline: Any, fingerprints: _Fingerprints) -> SharedPipeline:
    keys, key = [], "root"
    for _, step in pipeline.steps:
        key = _chain(key, fingerprints(step))
        keys.append(key)
    return SharedPipeline(pipeline, keys)


def _is_pipeline(value: Any) -> bool:
    steps = getattr(value, "steps", None)
    return isinstance(steps, list) and bool(steps) and hasattr(value, "predict")


def _members(final: Any) -> dict[str, list[tuple[str, Any]]]:
    """An ensemble step's member pipelines: its ``[(name, pipeline), ...]`` parameters, by parameter name."""
    get_params = getattr(final, "get_params", None)
    if get_params is None:
        return {}
    return {
        param: value
        for param, value in get_params(deep=False).items()
        if isinstance(value, list) and value and all(_is_member(item) for item in value)
    }


def _share_members(pipeline: Any, fingerprints: _Fingerprints) -> Any:
    """The pipeline, or a copy whose ensemble step routes its members through the shared work; the loaded
    model itself is left untouched."""
    name, final = pipeline.steps[-1]
    members = _members(final)
    if not members:
        return pipeline
    shared = {
        param: [(label, _wrap(member, fingerprints)) for label, member in value] for param, value in members.items()
    }
    copied = pipeline[:]
    copied.steps[-1] = (name, copy.copy(final).set_params(**shared))
    return copied


def _all_steps(pipelines: Iterable[Any]) -> Iterator[Any]:
    for pipeline in pipelines:
        for _, step in pipeline.steps:
            yield step
        for value in _members(pipeline.steps[-1][1]).values():
            yield from _all_steps(member for _, member in value)


def _is_member(item: Any) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and _is_pipeline(item[1])


def share_steps(pipelines: Mapping[str, Any]) -> dict[str, SharedPipeline]:
    """Each fitted pipeline wrapped so identical prefixes share their work (ensemble members included).

    The given pipelines are not modified.
    """
    chosen = {name: pipeline for name, pipeline in pipelines.items() if _is_pipeline(pipeline)}
    fingerprints = _Fingerprints(_all_steps(chosen.values()))
    return {name: _wrap(_share_members(pipeline, fingerprints), fingerprints) for name, pipeline in chosen.items()}
