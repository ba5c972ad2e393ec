"""The serving side of adaptml: a Flask app predicting with every model of the latest published version.

create_app(config, *, registry=None, store=None, dask=None)  the application factory
ModelStore                                                    the atomically swapped current version
predict_all(models, frame, ...)                               the prediction core (no Flask)
"""

from __future__ import annotations

from adaptml.serving.app import create_app
from adaptml.serving.loaded import LoadedModels, ModelInfo
from adaptml.serving.predict import ModelOutput, PredictionResult, predict_all
from adaptml.serving.refusals import RefreshOutcome
from adaptml.serving.settings import ServingSettings
from adaptml.serving.store import ModelStore

__all__ = [
    "LoadedModels",
    "ModelInfo",
    "ModelOutput",
    "ModelStore",
    "PredictionResult",
    "RefreshOutcome",
    "ServingSettings",
    "create_app",
    "predict_all",
]
