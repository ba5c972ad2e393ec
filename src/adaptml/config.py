"""The typed, frozen configuration: one YAML file validated into one ``Config`` object.

Unknown keys, wrong types and missing required keys are errors that name the key and the file.
"""

from __future__ import annotations

from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from adaptml.errors import ConfigError

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "Config",
    "DataConfig",
    "PublishConfig",
    "SelectionConfig",
    "ServingConfig",
    "SplitConfig",
    "TuningConfig",
    "did_you_mean",
    "load_config",
    "parse_config",
]

REGRESSION_METRICS = ("rmse", "mae", "r2", "mape", "rmsle")
CLASSIFICATION_METRICS = (
    "roc_auc",
    "accuracy",
    "balanced_accuracy",
    "f1",
    "precision",
    "recall",
    "log_loss",
    "mcc",
)
# in priority order: under the time budget the later ones are the first to be skipped
DEFAULT_MODELS = ("hgb_default", "lightgbm", "ridge", "catboost", "hist_gradient_boosting", "xgboost", "random_forest")
# 60 s on 2 cores, as issue 15 sets it: small and medium tables train every default model within it
DEFAULT_TIME_BUDGET_SECONDS = 60.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


def _s3_uri(value: str) -> str:
    if not value.startswith("s3://") or len(value) <= len("s3://") or value[5] == "/":
        raise ValueError(f"must be an s3://bucket/key URI, got {value!r}")
    return value.rstrip("/")


class DataConfig(_Strict):
    uri: str
    target: str = Field(min_length=1)
    task: Literal["auto", "regression", "classification"] = "auto"
    drop: tuple[str, ...] = ()
    deduplicate: bool = True

    _check_uri = field_validator("uri")(_s3_uri)


class SplitConfig(_Strict):
    strategy: Literal["random", "stratified", "time"] = "random"
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: int = 0
    time_column: str | None = None

    @model_validator(mode="after")
    def _time_needs_column(self) -> SplitConfig:
        if self.strategy == "time" and not self.time_column:
            raise ValueError("strategy 'time' needs split.time_column")
        return self


class TuningConfig(_Strict):
    """``strategy``: "portfolio" tries each model's proven configurations in priority order (training/portfolio.py);
    "random" searches each model's space at random; "none" keeps the defaults. ``budget_seconds`` caps one model's
    tuning seconds; 0: under a time budget the portfolio gets its share of what the models leave, and without a
    time budget (or with "random") there is no tuning, as before portfolios."""

    strategy: Literal["portfolio", "random", "none"] = "portfolio"
    budget_seconds: float = Field(default=0.0, ge=0.0)
    cv_folds: int = Field(default=5, ge=2, le=20)

    def cap_seconds(self, *, bounded: bool) -> float:
        """The most seconds one model's tuning may take in a run with (``bounded``) or without a time budget."""
        if self.strategy == "none":
            return 0.0
        if self.budget_seconds > 0 or self.strategy == "random" or not bounded:
            return self.budget_seconds
        return float("inf")


class PublishConfig(_Strict):
    """``refit``: after ranking on the test split, refit every model on train + test before publishing."""

    refit: bool = True
    gate_rows: int = Field(default=300, ge=0)  # raw training records published as gate.csv for the serving gate


class SelectionConfig(_Strict):
    """Permutation-importance feature selection: off by default (not shown to help on the robustness corpus)."""

    enabled: bool = False


class ServingConfig(_Strict):
    dask_threshold: int = Field(default=10, ge=1)
    max_rows: int = Field(default=1_000_000, ge=1)
    max_upload_mb: float = Field(default=200.0, gt=0)
    poll_seconds: float = Field(default=10.0, ge=0.0)
    preview_rows: int = Field(default=50, ge=1)


class Config(_Strict):
    project: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: DataConfig
    split: SplitConfig = SplitConfig()
    models: tuple[str, ...] = DEFAULT_MODELS
    metric: str | None = None
    registry: str
    tuning: TuningConfig = TuningConfig()
    selection: SelectionConfig = SelectionConfig()
    publish: PublishConfig = PublishConfig()
    time_budget_seconds: float = Field(default=DEFAULT_TIME_BUDGET_SECONDS, ge=0.0)  # whole run; 0: no limit
    serving: ServingConfig = ServingConfig()

    _check_registry = field_validator("registry")(_s3_uri)

    @field_validator("models")
    @classmethod
    def _known_models(cls, models: tuple[str, ...]) -> tuple[str, ...]:
        # the zoo's specs are the one list of models; imported here because the training package imports this module
        from adaptml.training.zoo import MODEL_NAMES

        unknown = [m for m in models if m not in MODEL_NAMES]
        if unknown:
            raise ValueError(f"unknown model {unknown[0]!r}; choose from {', '.join(MODEL_NAMES)}")
        if not models:
            raise ValueError("list at least one model")
        return tuple(dict.fromkeys(models))

    @model_validator(mode="after")
    def _metric_fits_task(self) -> Config:
        if self.metric is None:
            return self
        allowed = {
            "regression": REGRESSION_METRICS,
            "classification": CLASSIFICATION_METRICS,
            "auto": REGRESSION_METRICS + CLASSIFICATION_METRICS,
        }[self.data.task]
        if self.metric not in allowed:
            raise ValueError(f"metric {self.metric!r} does not fit task {self.data.task!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _keys_at(path: tuple[Any, ...]) -> list[str]:
    """The valid keys of the section at ``path`` (``()`` is the top level); none when it is not a section."""
    model: type[BaseModel] = Config
    for part in path:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def did_you_mean(word: str, choices: list[str]) -> str:
    """`` (did you mean 'x'?)`` naming the closest of ``choices`` to a misspelt ``word``, or nothing."""
    close = get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _format_error(error: ValidationError, source: str) -> str:
    # a misspelt required key is both unknown and missing: the unknown key, with its correction, says more
    errors = error.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        *section, word = first["loc"]
        return f"{source}: unknown key '{key}'{did_you_mean(str(word), _keys_at(tuple(section)))}"
    if kind == "missing":
        return f"{source}: missing required key '{key}'"
    message = first["msg"].removeprefix("Value error, ")
    return f"{source}: invalid value for '{key}': {message}"


def parse_config(raw: object, *, source: str = "<config>") -> Config:
    """Validate an already-parsed mapping into a ``Config``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_format_error(error, source)) from error


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: config file not found") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file ({error.__class__.__name__})") from error
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from error
    return parse_config(raw, source=str(path))
