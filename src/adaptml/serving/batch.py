"""``adaptml predict``: batch prediction of a CSV with every model of the latest version, without a server."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from adaptml.config import Config
from adaptml.errors import AdaptmlError, InputError, NotReady
from adaptml.registry import Registry
from adaptml.serving.dask_engine import DaskEngine
from adaptml.serving.parsing import parse_csv
from adaptml.serving.predict import PredictionResult, predict_all
from adaptml.serving.settings import Environment
from adaptml.serving.store import FAST_PATH_WAIT_SECONDS, ModelStore
from adaptml.serving.tables import Cell, DisplayTable, Header, display_table, results_frame, to_safe_csv

__all__ = ["metrics_table", "predict_command", "predict_file", "preview_table"]

PREVIEW_ROWS = 10


def predict_file(
    config: Config, input_csv: Path, environment: Environment, *, store: ModelStore | None = None
) -> PredictionResult:
    """Predict a CSV file with the latest version; on a Dask cluster only when DASK_SCHEDULER_ADDRESS is set
    (a one-off command starts no LocalCluster)."""
    store = store or ModelStore(Registry(config.registry, config.project, keys=environment.keys))
    outcome = store.refresh()
    if not outcome.ok:
        raise NotReady(f"cannot load a model version: {outcome.reason}")
    # the switch no longer waits for shared steps and fast paths: a one-off command scores with them, not before them
    store.wait_fast_paths(FAST_PATH_WAIT_SECONDS)
    try:
        data = input_csv.read_bytes()
    except OSError as error:
        raise InputError(f"{input_csv}: cannot read the file ({error.strerror or error})") from error
    frame = parse_csv(data, max_rows=config.serving.max_rows, source=str(input_csv))
    engine = DaskEngine(environment.dask_scheduler) if environment.dask_scheduler else None
    try:
        return predict_all(store.get(), frame, dask=engine, dask_threshold=config.serving.dask_threshold)
    finally:
        if engine is not None:
            engine.close()


def _compact(cell: Cell) -> str:
    """A cell as the terminal shows it: floats in 4 significant digits (the CSV written with -o keeps them all)."""
    if cell.error:
        return f"error: {cell.title}"
    if cell.number and cell.title:
        try:
            value = float(cell.title)
        except ValueError:
            return cell.text
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    return cell.text


def _header(header: Header, models: set[str]) -> str:
    """A model's prediction column is headed by the model; a probability column by its model and class."""
    return header.label if not header.model or header.label in models else f"{header.detail} {header.label}"


def preview_table(shown: DisplayTable, models: Sequence[str], width: int) -> tuple[Table, int]:
    """The preview in ``width`` columns: each model's prediction first, then class probabilities, then the inputs,
    each while the table still fits (the first always); no cell is cut short. Returns it and the columns left out."""
    names = set(models)
    order = sorted(
        range(len(shown.headers)),
        key=lambda i: 0 if shown.headers[i].label in names else 1 if shown.headers[i].model else 2,
    )
    table = Table(title=f"first {len(shown.rows)} of {shown.total_rows:,} rows" if shown.truncated else None)
    chosen: list[tuple[int, list[str]]] = []
    used = 1
    for index in order:
        header = _header(shown.headers[index], names)
        cells = [_compact(row[index]) for row in shown.rows]
        need = max(len(text) for text in [*cells, *header.split()]) + 3  # padding and border
        if not chosen or used + need <= width:
            chosen.append((index, cells))
            used += need
            table.add_column(header, style="bold" if shown.headers[index].model else None, overflow="fold")
    for row in zip(*(cells for _, cells in chosen), strict=True):
        table.add_row(*row)
    return table, len(shown.headers) - len(chosen)


def metrics_table(result: PredictionResult) -> Table | None:
    """Each model's metrics on the file, best first, when the file carried the target column (else None)."""
    scored = result.target_metrics
    if scored is None or not scored.scores:
        return None
    skipped = f", {scored.skipped:,} skipped" if scored.skipped else ""
    table = Table(title=f"metrics on {scored.rows:,} rows with a {scored.target}{skipped}")
    names = scored.names[:4]  # the primary metric first; four fit 80 columns
    for header in ("model", *names):
        table.add_column(header, justify="left" if header == "model" else "right")
    for score in scored.ranked:
        table.add_row(score.name, *(f"{score.metrics[name]:.4g}" for name in names))
    return table


def _show_preview(console: Console, result: PredictionResult) -> None:
    shown = display_table(result, PREVIEW_ROWS)
    table, left_out = preview_table(shown, [info.name for info in result.models], console.width)
    console.print(table)
    if left_out:
        console.print(f"{left_out} more column(s) not shown at this width; -o FILE writes them all", highlight=False)


def predict_command(
    config: Config,
    input_csv: Path,
    output: Path | None,
    environment: Environment,
    *,
    console: Console | None = None,
) -> None:
    """Predict INPUT.csv; write the full results table to ``output`` or print a preview."""
    console = console or Console()
    result = predict_file(config, input_csv, environment)
    summary = (
        f"{config.project} version {result.version}: {result.row_count:,} rows x {len(result.models)} models "
        f"({result.engine}{', ' + str(result.error_count) + ' failed cells' if result.error_count else ''})"
    )
    console.print(summary, highlight=False)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if result.extra_columns:
        console.print(f"ignored extra columns: {', '.join(result.extra_columns)}", highlight=False)
    if (metrics := metrics_table(result)) is not None:
        console.print(metrics)
    if output is None:
        _show_preview(console, result)
        return
    try:
        output.write_bytes(to_safe_csv(results_frame(result)))
    except OSError as error:
        raise AdaptmlError(f"{output}: cannot write the results ({error.strerror or error})") from error
    console.print(f"wrote {output}", highlight=False)
