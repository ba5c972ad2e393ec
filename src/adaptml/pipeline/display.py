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


_COST_COLUMNS = ("fit_seconds", "predict_ms_per_1000", "pickle_bytes")
_CELL_PADDING = 3  # a column's two spaces of padding and its border


def _fmt(value: Any) -> str:
    """A number in at most 4 significant digits (thousands grouped, never exponent notation); ``-`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def _leaderboard_columns(result: TrainResult) -> dict[str, list[str]]:
    """Every column the leaderboard can show, header -> cells, the ones that matter at 80 columns first: model,
    primary metric, CV mean ± std and fit time; then the other test metrics, predict time and size."""
    rows = result.leaderboard.to_dict(orient="records")
    metric = result.metric

    def cv(row: dict[Any, Any]) -> str:
        mean, std = _fmt(row.get(f"cv_{metric}_mean")), _fmt(row.get(f"cv_{metric}_std"))
        return "-" if mean == "-" else f"{mean} ± {std}"

    others = [c for c in result.leaderboard.columns if c not in ("rank", "model", metric, *_COST_COLUMNS)]
    columns = {
        "#": [str(row["rank"]) for row in rows],
        "model": [str(row["model"]) for row in rows],
        metric: [_fmt(row.get(metric)) for row in rows],
        "cv mean ± std": [cv(row) for row in rows],
        "fit s": [_fmt(row.get("fit_seconds")) for row in rows],
    }
    columns |= {name: [_fmt(row.get(name)) for row in rows] for name in others if not name.startswith("cv_")}
    columns["predict ms/1k"] = [_fmt(row.get("predict_ms_per_1000")) for row in rows]
    columns["size MB"] = [_fmt((row.get("pickle_bytes") or 0) / 1e6) for row in rows]
    return columns


def _fitting(columns: dict[str, list[str]], width: int, essential: int = 5) -> dict[str, list[str]]:
    """The first ``essential`` columns, then each further one while the table still fits in ``width``."""
    chosen: dict[str, list[str]] = {}
    used = 1
    for index, (header, cells) in enumerate(columns.items()):
        need = max(len(text) for text in [*cells, *header.split()]) + _CELL_PADDING
        if index < essential or used + need <= width:
            chosen[header] = cells
            used += need
    return chosen


def _leaderboard_table(result: TrainResult, width: int) -> Table:
    """The leaderboard with the columns that fit in ``width``; a cell is never cut short (headers may wrap)."""
    arrow = "higher is better" if result.higher_is_better else "lower is better"
    table = Table(title=f"leaderboard ({result.metric}, {arrow}; test split)", title_justify="left")
    chosen = _fitting(_leaderboard_columns(result), width)
    for header, cells in chosen.items():
        table.add_column(
            header,
            justify="left" if header == "model" else "right",
            overflow="fold",
            min_width=max(len(cell) for cell in cells) if cells else None,
        )
    for row in zip(*chosen.values(), strict=True):
        table.add_row(*row)
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


def _show_selection(console: Console, selection: dict[str, Any]) -> None:
    """The features selection dropped (or why it kept them all)."""
    if not selection:
        return
    dropped, kept = list(selection.get("dropped") or []), list(selection.get("kept") or [])
    if dropped:
        total = len(dropped) + len(kept)
        _say(console, f"[dim]selection[/] dropped {len(dropped)} of {total} features: {', '.join(dropped)}")
    else:
        method = str(selection.get("method", ""))
        why = method.removeprefix("none: ") if method.startswith("none: ") else "no feature lowered the score"
        _say(console, f"[dim]selection[/] dropped no feature ({why})")


def _show_importance(console: Console, importance: list[dict[str, Any]]) -> None:
    """The strongest features by permutation importance with their gain share: the best model's on the test split
    when the items name it (``model``, ``gain_model``), else selection's LightGBM probe's."""
    if not importance:
        return
    first = importance[0]
    if first.get("model"):
        _say(console, f"top features of {first['model']} (permutation importance on the test split):")
    else:
        _say(console, "top features (permutation importance on held-out rows; LightGBM gain share):")
    for rank, item in enumerate(importance, start=1):
        gain = item.get("gain_share")
        share = f"; gain {gain:.1%}" if isinstance(gain, int | float) else ""
        _say(console, f"  {rank}. {item['feature']}: {_fmt(item.get('permutation'))}{share}")
    if first.get("gain_model"):
        _say(console, f"  (gain: share of {first['gain_model']}'s total split gain)")


def _show_next(console: Console, result: TrainResult) -> None:
    """Where the EDA report is (in the registry and in the app) and the commands to use the version."""
    _say(console, f"EDA report: {result.report_uri}")
    _say(console, "  in the app: /eda/report.html, e.g. http://127.0.0.1:8000/eda/report.html")
    _say(console, "next: [bold]adaptml serve --config CONFIG[/] (web app and API) or")
    _say(console, "      [bold]adaptml predict CONFIG INPUT.csv[/] (score a CSV without a server)")


def show_result(console: Console | None, result: TrainResult) -> None:
    """What cleaning and selection dropped, the leaderboard, the fit rows, the version, the top features, any leakage
    suspects, the EDA report and the next commands."""
    console = console or Console()
    if result.up_to_date:
        _say(
            console,
            f"[bold green]up to date:[/] run {result.run_id} (same config, data and adaptml version) was already "
            f"published as version [bold]{result.version}[/]; nothing was retrained",
        )
    _show_cleaning(console, result.cleaning)
    _show_selection(console, result.selection)
    if console.is_terminal:
        console.print(_leaderboard_table(result, console.width))
    else:  # a pipe or a log file gets the whole table, not one squeezed into 80 columns
        wide = max(console.width, 160)
        Console(file=console.file, width=wide, no_color=console.no_color).print(_leaderboard_table(result, wide))
    _show_fit(console, result)
    verb = "version" if result.up_to_date else "published version"
    _say(console, f"{verb}: [bold]{result.version}[/]")
    _show_importance(console, result.importance)
    if not result.leakage:
        _say(console, "leakage check: no suspects")
    for suspect in result.leakage:
        columns = ", ".join(suspect.get("columns", []))
        _say(console, f"[bold yellow]leakage suspect:[/] {columns}: {suspect.get('evidence', '')}")
    _show_next(console, result)
    if result.stage_seconds:
        _say(console, f"total {result.total_seconds:.1f}s")
