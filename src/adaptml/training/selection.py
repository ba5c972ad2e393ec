"""Feature selection, fitted on the training split only.

Method: a LightGBM model is fitted on 75% of the training split; each feature is shuffled in the other 25%
(permutation importance, 3 repeats, scored by RMSE or log loss). A feature whose shuffling does not make the
held-out score worse (mean importance <= 0) carries no evidence of use and is dropped. Cheap (one fit) and
conservative: a feature the model relies on is never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from adaptml.training.features import FeaturePlan, NativeEncoder, engineer
from adaptml.training.task import TaskInfo

__all__ = ["METHOD", "SelectionReport", "select_features"]

METHOD = (
    "permutation importance of a LightGBM model fitted on 75% of the training split, measured on the other 25% "
    "(3 repeats); features whose shuffling does not worsen the held-out score are dropped"
)
MAX_ROWS = 20_000
MIN_ROWS = 40


@dataclass(frozen=True)
class SelectionReport:
    """What selection kept and dropped, with each feature's importance (mean and std) and LightGBM gain share."""

    method: str
    kept: tuple[str, ...]
    dropped: tuple[str, ...]
    importance: dict[str, float] = field(default_factory=dict)
    importance_std: dict[str, float] = field(default_factory=dict)
    gain_share: dict[str, float] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "kept": list(self.kept),
            "dropped": list(self.dropped),
            "importance": self.importance,
            "importance_std": self.importance_std,
            "gain_share": self.gain_share,
            "features": self.plan,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SelectionReport:
        return cls(
            data["method"],
            tuple(data["kept"]),
            tuple(data["dropped"]),
            dict(data["importance"]),
            dict(data["importance_std"]),
            dict(data["gain_share"]),
            dict(data["features"]),
        )


def select_features(
    train: pd.DataFrame, *, target: str, plan: FeaturePlan, info: TaskInfo, seed: int, n_jobs: int = 1
) -> SelectionReport:
    """Score every engineered feature on a holdout of the training split and drop those without evidence of use."""
    names = plan.features
    if len(train) < MIN_ROWS or len(names) < 2:
        return SelectionReport("none: too few rows or features to select from", tuple(names), (), plan=plan.to_dict())
    sample = train.sample(n=MAX_ROWS, random_state=seed) if len(train) > MAX_ROWS else train
    x = engineer(sample, plan)
    y = sample[target]
    classify = info.task == "classification"
    stratify = y if classify and int(y.value_counts().min()) >= 2 else None
    fit_x, held_x, fit_y, held_y = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=stratify)
    encoder = NativeEncoder(plan.numeric, plan.low_cardinality + plan.high_cardinality).fit(fit_x)
    fit_m, held_m = _as_matrix(encoder.transform(fit_x)), _as_matrix(encoder.transform(held_x))
    categorical = list(range(len(plan.numeric), len(names)))
    model = _probe(classify, seed, n_jobs)
    with threadpool_limits(n_jobs):
        model.fit(fit_m, fit_y, categorical_feature=categorical or "auto")
        scoring = "neg_log_loss" if classify else "neg_root_mean_squared_error"
        result = permutation_importance(model, held_m, held_y, scoring=scoring, n_repeats=3, random_state=seed)
    importance = dict(zip(names, (float(v) for v in result.importances_mean), strict=True))
    std = dict(zip(names, (float(v) for v in result.importances_std), strict=True))
    gains = np.asarray(model.booster_.feature_importance(importance_type="gain"), dtype=float)
    share = dict(zip(names, (float(g) for g in gains / max(gains.sum(), 1e-12)), strict=True))
    kept = [n for n in names if importance[n] > 0] or [max(names, key=lambda n: importance[n])]
    return SelectionReport(
        METHOD,
        tuple(kept),
        tuple(n for n in names if n not in kept),
        _rounded(importance),
        _rounded(std),
        _rounded(share),
        plan.to_dict(),
    )


def _as_matrix(encoded: pd.DataFrame) -> np.ndarray:
    """Numbers as they are and categories as their codes (missing as NaN): a fast matrix for LightGBM."""
    columns = [
        np.where(encoded[n].cat.codes < 0, np.nan, encoded[n].cat.codes).astype(float)
        if isinstance(encoded[n].dtype, pd.CategoricalDtype)
        else encoded[n].to_numpy(dtype=float)
        for n in encoded.columns
    ]
    return np.column_stack(columns)


def _probe(classify: bool, seed: int, n_jobs: int) -> Any:
    import lightgbm

    params: dict[str, Any] = {
        "n_estimators": 200,
        "learning_rate": 0.05,
        "num_leaves": 31,
        "random_state": seed,
        "n_jobs": n_jobs,
    }
    return lightgbm.LGBMClassifier(verbose=-1, **params) if classify else lightgbm.LGBMRegressor(verbose=-1, **params)


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 6) for name, value in sorted(values.items(), key=lambda item: -item[1])}
