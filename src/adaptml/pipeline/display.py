"""Terminal presentation of a training run with rich: live stage progress, then the leaderboard and the version."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from adaptml.eda.cleaning import cleaning_lines
from adaptml.pipeline.context import StageEvent
from adaptml.pipeline.result import TrainResult

__all__ = ["LiveProgress", "show_result"]

_STATE_STYLE = {
    "waiting": "[dim]waiting[/]",
    "running": "[yellow]running[/]",
    "cached": "[cyan]done earlier[/]",
    "failed": "[bold red]failed[/]",
}


class LiveProgress:
    """A live table of stages (waiting, running, done with seconds, done earlier, failed), fed by stage events.

    ``stages`` are the run plan's, in order; a stage it did not list still shows up when its first event arrives.
    """

    def __init__(self, console: Console | None, stages: Sequence[str]) -> None:
        self.console = console or Console()
        self.states: dict[str, str] = dict.fromkeys(stages, "waiting")
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._live = Live(console=self.console, refresh_per_second=4, get_renderable=self._render)
        self._showing = False

    def __enter__(self) -> LiveProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._showing:
            self._live.__exit__(kind, error, trace)

    def update(self, event: StageEvent) -> None:
        """Record an event; the table appears with the first one (an up-to-date run shows none)."""
        with self._lock:
            if event.kind == "start":
                self.started[event.stage] = time.perf_counter()
                self.states[event.stage] = "running"
            elif event.kind == "done":
                self.seconds[event.stage] = event.seconds
                self.states[event.stage] = "done"
            else:
                self.states[event.stage] = event.kind
            if not self._showing:
                self._live.__enter__()
                self._showing = True
            self._live.refresh()

    def _render(self) -> Table:
        table = Table(title="training pipeline", show_edge=False, title_justify="left")
        table.add_column("stage")
        table.add_column("status")
        for stage, state in self.states.items():
            if state == "done":
                text = f"[green]done[/] in {self.seconds[stage]:.1f}s"
            elif state == "running":
                text = (
                    f"{_STATE_STYLE[state]} {time.perf_counter() - self.started.get(stage, time.perf_counter()):.0f}s"
                )
            else:
                text = _STATE_STYLE.get(state, state)
            table.add_row(stage, text)
        return table


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _leaderboard_table(result: TrainResult) -> Table:
    board = result.leaderboard
    metric = result.metric
    others = [c for c in board.columns if c not in ("rank", "model", metric) and not c.startswith("cv_")]
    metrics = [c for c in others if c not in ("fit_seconds", "predict_ms_per_1000", "pickle_bytes")][:4]
    arrow = "higher is better" if result.higher_is_better else "lower is better"
    table = Table(title=f"leaderboard ({metric}, {arrow}; test split)", title_justify="left")
    for name in ["rank", "model", metric, *metrics, f"cv {metric}", "fit s", "predict ms/1k", "size MB"]:
        table.add_column(name, justify="left" if name == "model" else "right")
    for row in board.to_dict(orient="records"):
        mean, std = row.get(f"cv_{metric}_mean"), row.get(f"cv_{metric}_std")
        cv = "-" if _fmt(mean) == "-" else f"{_fmt(mean)} ± {_fmt(std)}"
        size = row.get("pickle_bytes") or 0
        table.add_row(
            str(row["rank"]),
            str(row["model"]),
            _fmt(row.get(metric)),
            *[_fmt(row.get(m)) for m in metrics],
            cv,
            _fmt(row.get("fit_seconds")),
            _fmt(row.get("predict_ms_per_1000")),
            f"{size / 1e6:.1f}",
        )
    return table


def _say(console: Console, text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True)


def _show_cleaning(console: Console, report: dict[str, Any]) -> None:
    """What cleaning did: rows and columns kept, columns dropped and why, markers read as missing, types parsed."""
    for decision, detail in cleaning_lines(report) if report else []:
        _say(console, f"[dim]cleaning[/] {decision}: {detail}")


def _show_fit(console: Console, result: TrainResult) -> None:
    """The rows the published models were fitted on, the models the budget skipped, and the time budget."""
    if result.fit_rows is not None:
        how = "refit on every row after ranking" if result.refit else result.refit_reason or "not refit"
        _say(console, f"published models fitted on {result.fit_rows:,} rows ({how})")
    for name, why in result.skipped.items():
        _say(console, f"[bold yellow]model not trained:[/] {name}: {why}")
    budget = result.time_budget.get("seconds")
    if budget:
        _say(console, f"time budget {budget:g}s, {result.time_budget.get('elapsed_at_publish', 0):.1f}s at publish")


def show_result(console: Console | None, result: TrainResult) -> None:
    """What cleaning did, the leaderboard, the fit rows, the version, the EDA report and any leakage suspects."""
    console = console or Console()
    if result.up_to_date:
        _say(
            console,
            f"[bold green]up to date:[/] run {result.run_id} (same config, data and adaptml version) was already "
            f"published as version [bold]{result.version}[/]; nothing was retrained",
        )
    _show_cleaning(console, result.cleaning)
    table = _leaderboard_table(result)
    if console.is_terminal:
        console.print(table)
    else:  # a pipe or a log file gets the whole table, not one squeezed into 80 columns
        Console(file=console.file, width=max(console.width, 160), no_color=console.no_color).print(table)
    _show_fit(console, result)
    verb = "version" if result.up_to_date else "published version"
    _say(console, f"{verb}: [bold]{result.version}[/]")
    _say(console, f"EDA report: {result.report_uri}")
    if not result.leakage:
        _say(console, "leakage check: no suspects")
    for suspect in result.leakage:
        columns = ", ".join(suspect.get("columns", []))
        _say(console, f"[bold yellow]leakage suspect:[/] {columns}: {suspect.get('evidence', '')}")
    if result.stage_seconds:
        _say(console, f"total {result.total_seconds:.1f}s")
