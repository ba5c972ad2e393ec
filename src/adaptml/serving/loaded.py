"""One verified, unpickled, smoke-tested model version: the immutable unit the serving app swaps atomically."""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import pandas as pd

from adaptml.errors import IntegrityError, RegistryError
from adaptml.registry import LoadedVersion
from adaptml.schema import Schema, SchemaCoercer
from adaptml.serving.compiled.gate import FastPath
from adaptml.serving.used_columns import unused_columns
from adaptml.training.task import TaskInfo

__all__ = ["LoadedModels", "ModelInfo", "load_models", "model_input", "smoke_test"]

MODEL_PREFIX = "models/"
MODEL_SUFFIX = ".pkl"
COERCE_STEP = "coerce"  # the name training (training/fitting.py) gives a pipeline's SchemaCoercer


@dataclass(frozen=True)
class ModelInfo:
    """A model's place on the leaderboard: rank, primary metric and its score (None when unranked)."""

    name: str
    rank: int | None
    metric: str | None
    score: float | None
    higher_is_better: bool | None = None

    @property
    def label(self) -> str:
        if self.metric is None or self.score is None:
            return "unranked"
        return f"{self.metric} {self.score:.4g}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rank": self.rank,
            "metric": self.metric,
            "score": self.score,
            "higher_is_better": self.higher_is_better,
        }


@dataclass(frozen=True)
class LoadedModels:
    """Everything one response needs from one version; never mutated, replaced whole on reload."""

    project: str
    version: str
    schema: Schema
    manifest: dict[str, Any] = field(repr=False)
    infos: tuple[ModelInfo, ...]
    models: dict[str, Any] = field(repr=False)
    files: dict[str, bytes] = field(repr=False)
    loaded_at: str = ""
    predictors: dict[str, Any] = field(default_factory=dict, repr=False)
    fast_paths: dict[str, FastPath] | None = None  # None until derived (off the request path)
    unused_columns: tuple[str, ...] = ()  # columns no model uses (feature selection dropped them): optional
    reused: frozenset[str] = frozenset()  # models whose verified pickle the previous version had: not unpickled again
    fast_key: str = ""  # what the fast paths were derived and gated from (pickles, gate, schema); "" if not derived

    def by_sha256(self) -> dict[str, Any]:
        """Each model object keyed by the sha256 of its pickle, as the manifest lists it."""
        files = self.manifest.get("files") or {}
        pickles = {name: files.get(f"{MODEL_PREFIX}{name}{MODEL_SUFFIX}") or {} for name in self.models}
        return {entry["sha256"]: self.models[name] for name, entry in pickles.items() if entry.get("sha256")}

    def predictor(self, name: str) -> tuple[Any, bool]:
        """What to call for a model, and whether it takes the already-coerced frame (else raw records)."""
        tail = self.predictors.get(name)
        return (tail, True) if tail is not None else (self.models[name], False)

    def fast_path(self, name: str) -> FastPath:
        """Whether the model's compiled scorer serves it, and why not."""
        if self.fast_paths is None:
            return FastPath(False, "not derived yet: the pickled pipeline serves meanwhile")
        return self.fast_paths.get(name) or FastPath(False, "no fast path derived")

    @cached_property
    def used_schema(self) -> Schema:
        """The schema without the columns no model uses (computed once per version, not per request)."""
        unused = set(self.unused_columns)
        return replace(self.schema, columns=tuple(c for c in self.schema.columns if c.name not in unused))

    @property
    def task(self) -> str:
        return str(self.manifest.get("task") or self.schema.task)

    @property
    def metric(self) -> str | None:
        metric = self.manifest.get("metric")
        return str(metric) if metric else None

    @property
    def task_info(self) -> TaskInfo:
        """The task as training's metric functions take it: primary metric, its direction, the class labels."""
        regression = self.task == "regression"
        metric = self.metric or ("rmse" if regression else "roc_auc")
        higher = self.manifest.get("higher_is_better")
        return TaskInfo(self.task, metric, bool(higher) if higher is not None else not regression, self.schema.classes)

    @property
    def leaderboard(self) -> list[dict[str, Any]]:
        rows = self.manifest.get("leaderboard")
        return list(rows) if isinstance(rows, list) else []

    @property
    def best(self) -> str:
        return self.infos[0].name

    def example_frame(self) -> pd.DataFrame:
        return model_input(pd.DataFrame([{name: self.schema.example.get(name) for name in self.schema.names}]))


def model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame a pipeline is fed: missing values in text columns spelled as "" (a missing marker).

    Same meaning to SchemaCoercer, and it keeps NaN/None out of the string-cleaning path of pandas 3.
    """
    text = [name for name in frame.columns if not pd.api.types.is_numeric_dtype(frame[name])]
    if not text or not frame[text].isna().any().any():
        return frame
    filled = {name: frame[name].astype("object").where(frame[name].notna(), "") for name in text}
    return frame.assign(**filled)


def _leaderboard_infos(manifest: dict[str, Any], names: list[str]) -> tuple[ModelInfo, ...]:
    """The models that have a pickle, ordered by leaderboard rank; unranked ones last, by name."""
    metric = manifest.get("metric")
    higher = manifest.get("higher_is_better")
    ranked: dict[str, ModelInfo] = {}
    for row in manifest.get("leaderboard") or []:
        name = str(row.get("model", ""))
        if name in names and name not in ranked:
            score = row.get(metric) if metric else None
            rank = row.get("rank")
            ranked[name] = ModelInfo(
                name,
                int(rank) if rank is not None else None,
                str(metric) if metric else None,
                float(score) if isinstance(score, int | float) else None,
                bool(higher) if higher is not None else None,
            )
    unranked = [ModelInfo(n, None, None, None) for n in sorted(names) if n not in ranked]
    by_rank = sorted(ranked.values(), key=lambda info: (info.rank is None, info.rank or 0, info.name))
    return tuple(by_rank + unranked)


def load_models(loaded: LoadedVersion, *, reuse: dict[str, Any] | None = None) -> LoadedModels:
    """Unpickle every model of a verified version (the registry has already checked every sha256).

    ``reuse`` maps the sha256 of pickles already unpickled (and smoke-tested) by the served version to their
    objects: a model whose verified pickle has the same content is taken from there instead of unpickled again."""
    if "schema.json" not in loaded.files:
        raise RegistryError(f"{loaded.version}: no schema.json in the version")
    try:
        schema = Schema.from_json(loaded.files["schema.json"])
    except (ValueError, KeyError, TypeError) as error:
        raise IntegrityError(f"{loaded.version}: schema.json is not a valid schema ({error})") from error
    names = sorted(
        path[len(MODEL_PREFIX) : -len(MODEL_SUFFIX)]
        for path in loaded.files
        if path.startswith(MODEL_PREFIX) and path.endswith(MODEL_SUFFIX)
    )
    if not names:
        raise RegistryError(f"{loaded.version}: the version has no models/*.pkl")
    models: dict[str, Any] = {}
    reused = _reusable(loaded, names, reuse or {})
    for name in names:
        if name in reused:
            models[name] = reused[name]
            continue
        try:
            models[name] = pickle.load(io.BytesIO(loaded.files[f"{MODEL_PREFIX}{name}{MODEL_SUFFIX}"]))
        except Exception as error:  # noqa: BLE001 - any unpickling failure refuses the version
            raise IntegrityError(f"{loaded.version}: models/{name}.pkl cannot be unpickled ({error!r})") from error
    infos = _leaderboard_infos(loaded.manifest, names)
    ordered = {info.name: models[info.name] for info in infos}
    tails = {name: tail for name, model in ordered.items() if (tail := _after_coercion(model, schema)) is not None}
    return LoadedModels(
        project=loaded.project,
        version=loaded.version,
        schema=schema,
        manifest=loaded.manifest,
        infos=infos,
        models=ordered,
        files=loaded.files,
        loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        predictors=tails,  # shared between models once the fast paths are derived (off the switch)
        unused_columns=unused_columns(schema, ordered),
        reused=frozenset(reused),
    )


def _reusable(loaded: LoadedVersion, names: list[str], reuse: dict[str, Any]) -> dict[str, Any]:
    """The models whose pickle (verified against the manifest) has a sha256 ``reuse`` holds an object for."""
    files = loaded.manifest.get("files") or {}
    found = {}
    for name in names:
        entry = files.get(f"{MODEL_PREFIX}{name}{MODEL_SUFFIX}") or {}
        if entry.get("sha256") in reuse:
            found[name] = reuse[entry["sha256"]]
    return found


def _after_coercion(model: Any, schema: Schema) -> Any | None:
    """The pipeline minus its SchemaCoercer, when that coercer comes first and uses exactly the version's schema.

    Serving validates every request with that schema already (strictly), so the typed frame it gets is what the
    coercer would produce; skipping the repeat saves one coercion per model per request. Anything else: None.
    """
    names = [name for name, _ in getattr(model, "steps", None) or ()]
    if COERCE_STEP not in names:
        return None
    at = names.index(COERCE_STEP)
    coercer = model.named_steps[COERCE_STEP]
    if at > 0 or at == len(names) - 1 or not isinstance(coercer, SchemaCoercer):
        return None  # a step before the coercer would be skipped too; nothing after it is no pipeline
    try:
        same = Schema.from_dict(coercer.schema) == schema
    except (KeyError, TypeError, ValueError):
        return None
    return model[at + 1 :] if same else None


def smoke_test(models: LoadedModels) -> None:
    """Predict the schema's example record with every model; any failure refuses the whole version.

    Single-threaded: one record through OpenMP thread pools costs milliseconds per tree stage on a busy host
    (seconds per version), against microseconds on one thread."""
    from adaptml.serving.threads import single_threaded

    frame = models.example_frame()
    with single_threaded():
        _smoke_each(models, frame)


def _smoke_each(models: LoadedModels, frame: pd.DataFrame) -> None:
    for name, model in models.models.items():
        if name in models.reused:
            continue  # the same pickle passed when the served version was loaded
        try:
            predicted = model.predict(frame)
        except Exception as error:  # noqa: BLE001 - a model that cannot predict the example is refused
            raise IntegrityError(
                f"{models.version}: model {name} failed the smoke prediction on the example record ({error!r})"
            ) from error
        if len(predicted) != 1:
            raise IntegrityError(f"{models.version}: model {name} returned {len(predicted)} predictions for 1 record")
