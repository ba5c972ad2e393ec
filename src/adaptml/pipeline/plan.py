"""The run plan: which models a run trains, whether it blends them, and its stages in order.

Derived once from the config; the tasks' dependencies, the ensemble's members, the evaluation and the progress
display all read it instead of re-deriving it.
"""

from __future__ import annotations

from dataclasses import dataclass

from adaptml.config import Config
from adaptml.training.zoo import ENSEMBLE

__all__ = ["BASELINE", "PREPARATION", "RunPlan", "train_label"]

BASELINE = "dummy"
PREPARATION = ("ingest", "clean", "explore", "split", "select")
_CLOSING = ("evaluate", "publish")


def train_label(model: str) -> str:
    """The stage name of one model's training, as the progress display shows it."""
    return f"train {model}"


@dataclass(frozen=True)
class RunPlan:
    """``models`` are trained (the baseline first); ``members`` are blended by the ensemble (none: no ensemble)."""

    models: tuple[str, ...]
    members: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: Config) -> RunPlan:
        real = tuple(m for m in cfg.models if m != BASELINE)
        return cls(models=(BASELINE, *real), members=real if len(real) >= 2 else ())

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
        return (*PREPARATION, *(train_label(m) for m in self.models), *blend, *_CLOSING)
