"""``adaptml predict``: batch prediction of a CSV with every model of the latest version, without a server."""

from __future__ import annotations

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
from adaptml.serving.store import ModelStore
from adaptml.serving.tables import display_table, results_frame, to_safe_csv

__all__ = ["predict_command", "predict_file"]

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


def _preview(result: PredictionResult) -> Table:
    shown = display_table(result, PREVIEW_ROWS)
    table = Table(title=f"first {len(shown.rows)} of {shown.total_rows:,} rows" if shown.truncated else None)
    for header in shown.headers:
        table.add_column(header.label, justify="left", style="bold" if header.model else None)
    for row in shown.rows:
        table.add_row(*(f"error: {cell.title}" if cell.error else cell.text for cell in row))
    return table


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
    if output is None:
        console.print(_preview(result))
        return
    try:
        output.write_bytes(to_safe_csv(results_frame(result)))
    except OSError as error:
        raise AdaptmlError(f"{output}: cannot write the results ({error.strerror or error})") from error
    console.print(f"wrote {output}", highlight=False)
