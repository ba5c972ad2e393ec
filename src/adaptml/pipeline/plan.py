"""The run plan: which models a run trains (in priority order), whether it blends them, its time budget, its stages.

Derived once from the config when the run starts; the tasks' dependencies, the ensemble's members, the budget
decisions, the evaluation and the progress display all read it instead of re-deriving it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from adaptml.config import Config
from adaptml.training.budget import Budget
from adaptml.training.zoo import ENSEMBLE

__all__ = ["BASELINE", "PREPARATION", "RunPlan", "refit_label", "train_label"]

BASELINE = "dummy"
PREPARATION = ("ingest", "clean", "explore", "split", "select")
_CLOSING = ("evaluate",)


def train_label(model: str) -> str:
    """The stage name of one model's training, as the progress display shows it."""
    return f"train {model}"


def refit_label(model: str) -> str:
    """The stage name of one model's refit on every row."""
    return f"refit {model}"


@dataclass(frozen=True)
class RunPlan:
    """``models`` are trained in this order (the baseline first, then the config's order, which is the priority
    order under the time budget); ``members`` are blended by the ensemble (none: no ensemble)."""

    models: tuple[str, ...]
    members: tuple[str, ...]
    budget: Budget = field(default_factory=lambda: Budget(0.0, time.time()))

    @classmethod
    def from_config(cls, cfg: Config, *, started: float | None = None) -> RunPlan:
        """The plan of a run that started at ``started`` (epoch seconds; now when not given)."""
        real = tuple(m for m in cfg.models if m != BASELINE)
        budget = Budget(cfg.time_budget_seconds, time.time() if started is None else started)
        return cls(models=(BASELINE, *real), members=real if len(real) >= 2 else (), budget=budget)

    def before(self, model: str) -> tuple[str, ...]:
        """The models trained before ``model``."""
        return self.models[: self.models.index(model)]

    def after(self, model: str) -> tuple[str, ...]:
        """The models trained after ``model``."""
        return self.models[self.models.index(model) + 1 :]

    @property
    def has_ensemble(self) -> bool:
        return bool(self.members)

    @property
    def evaluated(self) -> tuple[str, ...]:
        """Every model on the leaderboard: the trained ones, then the ensemble if there is one."""
        return (*self.models, ENSEMBLE) if self.has_ensemble else self.models

    @property
    def stages(self) -> tuple[str, ...]:
        """Every stage of the run, in the order the display lists them."""
        blend = ("ensemble",) if self.has_ensemble else ()
        refits = tuple(refit_label(m) for m in self.evaluated)
        return (*PREPARATION, *(train_label(m) for m in self.models), *blend, *_CLOSING, *refits, "publish")
