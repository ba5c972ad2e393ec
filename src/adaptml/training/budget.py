"""The run's wall-clock budget: which models fit in what remains, how long tuning may take, whether the refit fits.

``time_budget_seconds`` bounds the whole run, preparation included. Models train in priority order; before each one its
cost is estimated from what this run measured so far: the baseline's seconds are the per-task overhead, and the real
models' seconds beyond it, divided by their specs' relative ``cost``, give seconds per unit of cost on this data and
machine. A model whose estimate (training plus its share of the refit) does not fit in what remains, less a reserve for
the ensemble and publishing, the refits of the models already trained (``pending_refits``) and a share of every trained
model's seconds for evaluating it, is skipped with the reason.
The closing stages also score every trained model many times over (the ensemble's greedy rounds, the diagnostics' paired
bootstrap): each Train measures one score on its out-of-fold predictions, and ``SCORES_PER_MODEL`` of them per model
still to be closed are kept on top (a multiclass ROC AUC is six scikit-learn AUCs per call: on glass, 214 rows, the
closing stages took 50 s of a 60 s budget while the models trained in 30), and so is the pipeline's own time between
tasks, as measured between the Train tasks, for every task still to come (on a loaded machine, 20 s of a run were
outside every stage). The first real model has nothing to be estimated from and always trains; every model, the first
included, fits on the whole split first and then cross-validates in only as many folds as the time left affords
(``affordable_folds``, at least two), so a model whose one fit turns out slow cannot spend the run on its folds, and
every booster stops adding trees at the deadline (``deadline.fit_deadline``). Tuning gets only what is left over after
the remaining models' estimates, and a configuration starts only when it is expected to end within that. On a large
table (``zoo.LARGE_ROWS``) models plan two folds (``planned_folds``). A booster that stops at its deadline is
admitted in what is left when its estimate does not fit (``bounded_seconds``), on any table: estimates scaled from the
floor's seconds ran to minutes on flights' 262k rows, and on diamonds (43k rows) they skipped five models and
published at 28 s of 60; an early-stopped booster cut at a deadline still learns most of it.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from adaptml.training.importance import TIME_LIMIT as IMPORTANCE_SECONDS
from adaptml.training.zoo import LARGE_ROWS

__all__ = [
    "Budget",
    "Measured",
    "RefitDecision",
    "TrainDecision",
    "affordable_folds",
    "bounded_seconds",
    "closing_models",
    "closing_tasks",
    "plan_refit",
    "plan_training",
    "pending_refits",
    "planned_folds",
    "process_started",
    "started_at",
    "time_scoring",
]

CLOSING_SHARE = 0.1  # of the budget, kept for the ensemble, evaluation, refit bookkeeping and publishing
MIN_CLOSING_SECONDS = 2.0
# of the budget, up to importance's own limit, kept on top for the best model's permutation importance on the test
# split: it alone took up to its 10 s limit at publish on the corpus (diamonds: Evaluate 34.6 s with 3 models)
IMPORTANCE_SHARE = 0.15
# of the trained models' seconds, kept on top for evaluating them: Evaluate predicts the test split several times per
# model and the ensemble re-predicts its members; at a 60 s budget the closing stages took 0.2 (nass_cds), 0.2
# (trump_tweets) and 0.75 (seattle_pets) of the trained models' seconds, against a fixed 6 s reserve
EVALUATION_SHARE = 0.3
# a large table's CV folds: with 100,000+ rows two folds score a model as steadily as five do on small ones, at
# (1 + 1) whole fits rather than (1 + 4) (the final fit, then the folds)
LARGE_TABLE_FOLDS = 2
# of a model's seconds left, its tuning and final fit may use before the boosters stop adding trees: the rest is for
# two folds (one whole fit's worth) and the refit on a fifth more rows
FINAL_FIT_SHARE = 1 / (1 + 1 + 1.25)
PUBLISH_SHARE = 0.05  # of the budget, still kept after the refit for publishing
REFIT_OVERHEAD_SECONDS = 0.3  # per model: load the splits, pickle, store
# primary-metric scores the closing stages compute per trained model: the ensemble's greedy forward selection
# (``ensemble.ROUNDS``, 30: every member each round) and the diagnostics' paired bootstrap (200 rounds, every model)
SCORES_PER_MODEL = 230


@dataclass(frozen=True)
class Budget:
    """``seconds`` from ``started`` (epoch seconds, so every process of a run agrees); 0 seconds: unbounded."""

    seconds: float
    started: float

    @property
    def bounded(self) -> bool:
        return self.seconds > 0

    def elapsed(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.started

    def remaining(self, now: float | None = None) -> float:
        return self.seconds - self.elapsed(now) if self.bounded else float("inf")

    def closing_reserve(self) -> float:
        fixed = max(MIN_CLOSING_SECONDS, CLOSING_SHARE * self.seconds)
        return fixed + min(IMPORTANCE_SECONDS, IMPORTANCE_SHARE * self.seconds)


def started_at(stat: str, own_stat: str, *, ticks_per_second: float) -> float:
    """Epoch seconds a process started, from the texts of ``/proc/stat`` (boot time) and ``/proc/<pid>/stat``
    (start time in clock ticks after boot, field 22)."""
    boot = next(float(line.split()[1]) for line in stat.splitlines() if line.startswith("btime "))
    after_name = own_stat.rsplit(")", 1)[1].split()  # the command name may hold spaces; field 3 follows it
    return boot + float(after_name[19]) / ticks_per_second


def process_started() -> float:
    """When this process started (epoch seconds), so a run's budget can count its own start-up (imports took 10 to
    25 s of a 60 s budget at nice 19 on a loaded 2-core machine); now where ``/proc`` is absent."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        return started_at(Path("/proc/stat").read_text(), Path("/proc/self/stat").read_text(), ticks_per_second=ticks)
    except (OSError, ValueError, IndexError, StopIteration, AttributeError):
        return time.time()


@dataclass(frozen=True)
class Measured:
    """One trained model: the seconds its training took (tuning excluded), its spec's relative cost and the seconds
    its refit on every row is expected to take (its final fit's, times the rows ratio: what ``plan_refit`` counts)."""

    seconds: float
    cost: float
    refit_seconds: float = 0.0


@dataclass(frozen=True)
class TrainDecision:
    """Train or skip (with the reason); how many seconds tuning may use; the estimate it was based on; ``seconds``:
    what a deadline-bound fit admitted with less than its estimate may use (None: what the budget leaves)."""

    train: bool
    reason: str = ""
    tuning_seconds: float = 0.0
    estimate: float | None = None
    seconds: float | None = None


def _cost_model(overhead: float, trained: Sequence[Measured]) -> float | None:
    """Seconds per unit of cost beyond the per-task overhead; None before any real model was measured."""
    costs = sum(m.cost for m in trained)
    if not trained or costs <= 0:
        return None
    return sum(max(0.0, m.seconds - overhead) for m in trained) / costs


def plan_training(
    budget: Budget,
    *,
    cost: float,
    overhead: float,
    trained: Sequence[Measured],
    later: Sequence[float],
    refit_share: float,
    tuning_cap: float,
    scoring_seconds: float = 0.0,
    task_seconds: float = 0.0,
    stops_at_deadline: bool = False,
    now: float | None = None,
) -> TrainDecision:
    """Whether a model of relative ``cost`` fits, given the models ``trained`` so far and the costs still ``later``.

    ``refit_share`` is the refit's expected time as a share of the training time (0 without refit);
    ``scoring_seconds`` one primary-metric score as measured by the latest model (``time_scoring``);
    ``task_seconds`` what the pipeline spends between two tasks (scheduling, checking outputs in the workspace), as
    measured between the Train tasks: every later Train task and every closing task (``closing_tasks``) costs it.
    ``stops_at_deadline``: the model is a booster that stops adding trees at a deadline (estimates scaled from the
    floor's seconds can run to minutes): it trains in what is left, less evaluating it, when that is at least the
    quickest trained model's seconds (``bounded_seconds``).
    """
    if not budget.bounded:
        return TrainDecision(True, tuning_seconds=tuning_cap)
    left = budget.remaining(now) - budget.closing_reserve()
    unit = _cost_model(overhead, trained)
    if unit is None:  # the first real model: nothing to estimate from; a run always publishes one
        share = max(0.0, left) / (2 * (1 + len(later)))
        return TrainDecision(True, tuning_seconds=min(tuning_cap, share))
    scale = 1.0 + refit_share
    estimate = (overhead + unit * cost) * scale
    left -= pending_refits(trained, refit_share)
    scoring = SCORES_PER_MODEL * scoring_seconds * closing_models(len(trained) + 1)
    scoring += task_seconds * (closing_tasks(len(trained) + 1) + len(later))
    evaluation = EVALUATION_SHARE * (sum(m.seconds for m in trained) + overhead + unit * cost) + scoring
    if estimate + evaluation > left:
        seconds = bounded_seconds(left, trained, scoring) if stops_at_deadline else None
        if seconds is not None:
            return TrainDecision(True, estimate=seconds, seconds=seconds)
        reason = (
            f"skipped: an estimated {estimate:.1f}s to train and refit and {evaluation:.1f}s to evaluate, "
            f"{max(0.0, left):.1f}s left of the {budget.seconds:g}s budget (after {budget.closing_reserve():.1f}s "
            "kept for the ensemble, importance and publishing and the trained models' refits)"
        )
        return TrainDecision(False, reason, estimate=estimate)
    spare = left - estimate - evaluation - sum((overhead + unit * c) * scale for c in later)
    spare -= (SCORES_PER_MODEL * scoring_seconds + task_seconds) * len(later)
    return TrainDecision(True, tuning_seconds=min(tuning_cap, max(0.0, spare) / (1 + len(later))), estimate=estimate)


def pending_refits(trained: Sequence[Measured], refit_share: float) -> float:
    """The seconds the refits of the models ``trained`` so far will take, as ``plan_refit`` will estimate them, with
    the baseline's overhead (none without refit). Each model's admission counted its own refit, but that time is
    spent only at the end: unless every later admission keeps it, the models after it eat it (movies, 47k rows:
    six models trained, then 3 s left for a 13 s refit, published on 80 % of the rows)."""
    if refit_share <= 0:
        return 0.0
    return sum(m.refit_seconds + REFIT_OVERHEAD_SECONDS for m in trained) + REFIT_OVERHEAD_SECONDS


def bounded_seconds(left: float, trained: Sequence[Measured], scoring: float) -> float | None:
    """The seconds a deadline-bound fit may use of ``left`` after evaluating it and the models ``trained`` (and
    ``scoring`` their closing scores); None when that is less than the quickest of them took: it would be cut
    before it could match them."""
    seconds = (left - scoring - EVALUATION_SHARE * sum(m.seconds for m in trained)) / (1 + EVALUATION_SHARE)
    return seconds if trained and seconds >= min(m.seconds for m in trained) else None


def closing_models(trained: int) -> int:
    """The models the closing stages score when ``trained`` real models were trained: those, the baseline, and the
    ensemble once two or more are blended."""
    return trained + 1 + (1 if trained >= 2 else 0)


def closing_tasks(trained: int) -> int:
    """The pipeline tasks after training when ``trained`` real models were trained: a refit (or its record) per
    closing model, the ensemble, evaluation and publishing."""
    return closing_models(trained) + 3


def time_scoring(scorer: Callable[[], object], *, repeats: int = 3) -> float:
    """The median seconds of ``repeats`` calls of ``scorer``: one primary-metric score, as the closing stages
    compute it many times per model (the median: one call can catch a descheduling)."""
    seconds = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        scorer()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def planned_folds(folds: int, rows: int) -> int:
    """The CV folds a model of a training split of ``rows`` rows plans for: fewer on a large table."""
    return min(folds, LARGE_TABLE_FOLDS) if rows >= LARGE_ROWS else folds


def affordable_folds(folds: int, *, fit_seconds: float, seconds_left: float) -> int:
    """How many of ``folds`` CV folds fit in ``seconds_left``, at least 2.

    k folds each fit on (k-1)/k of the rows, (k-1) whole fits in all. Two folds still give every row an
    out-of-fold prediction (what the ensemble and the leaderboard's CV need).
    """
    if folds <= 2 or fit_seconds <= 0 or not math.isfinite(seconds_left):
        return folds
    return max(2, min(folds, int(max(0.0, seconds_left) / fit_seconds) + 1))


@dataclass(frozen=True)
class RefitDecision:
    """Whether the published models are refit on every row, why not if not, and the estimated seconds; ``only``
    names the models refit when not all of them are (empty: all of them)."""

    refit: bool
    reason: str
    estimate: float
    only: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        facts: dict[str, object] = {"refit": self.refit, "reason": self.reason}
        return {**facts, "estimate_seconds": round(self.estimate, 2), "only": list(self.only)}


def plan_refit(
    budget: Budget,
    *,
    enabled: bool,
    fit_seconds: Mapping[str, float],
    ratio: float,
    required: Collection[str] = (),
    now: float | None = None,
) -> RefitDecision:
    """Refit every model or none (one ``fit_rows`` for the version): each final fit's seconds times the rows ratio.

    The ``required`` models are refit even when the others do not fit: the floor, when it is what gets published,
    is one default fit (a fifth of its CV) and, fitted on a fifth fewer rows, falls below the same algorithm fitted
    on every row (flights: published on 80 % of the rows under load, it lost to the baseline it equals in CV).
    """
    estimate = sum(ratio * s + REFIT_OVERHEAD_SECONDS for s in fit_seconds.values())
    if not enabled:
        return RefitDecision(False, "publish.refit is off: the models are published as fitted on the training split", 0)
    if budget.bounded:
        left = budget.remaining(now) - max(1.0, PUBLISH_SHARE * budget.seconds)
        if estimate > left:
            reason = (
                f"not refit: an estimated {estimate:.1f}s to refit on every row, {max(0.0, left):.1f}s left of the "
                f"{budget.seconds:g}s budget; the models are published as fitted on the training split"
            )
            only = tuple(name for name in fit_seconds if name in required)
            if only:
                needed = sum(ratio * fit_seconds[name] + REFIT_OVERHEAD_SECONDS for name in only)
                return RefitDecision(True, f"{reason} (only {', '.join(only)} is refit: required)", needed, only)
            return RefitDecision(False, reason, estimate)
    return RefitDecision(True, "", estimate)
