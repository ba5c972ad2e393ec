"""The ``adaptml`` command line: each command loads its inputs, calls one core function, reports."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from adaptml import __version__
from adaptml.errors import AdaptmlError

app = typer.Typer(
    name="adaptml",
    help="From a tabular dataset on S3 to ranked, deployed, self-refreshing models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

ConfigArg = Annotated[Path, typer.Argument(help="The YAML config file.", show_default=False)]
InsecureOption = Annotated[
    bool,
    typer.Option(
        "--insecure-unsigned",
        help="Accept UNSIGNED model versions when no ADAPTML_VERIFY_KEY is set (anyone who can write the bucket "
        "can then run code here). Never in production.",
    ),
]


def one_line_errors(func: F) -> F:
    """Print adaptml errors as one line on stderr and exit non-zero, instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AdaptmlError as error:
            err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        console.print(f"adaptml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """adaptml: train, rank, publish and serve tabular models."""


@app.command()
@one_line_errors
def s3(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9000,
) -> None:
    """Run the embedded S3-compatible server (moto) until Ctrl-C."""
    from adaptml.s3server import EmbeddedS3, client_environment

    server = EmbeddedS3(host, port)
    try:
        server.start()
    except OSError as error:
        raise AdaptmlError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    console.print(f"embedded S3 listening on [bold]{server.endpoint}[/] (Ctrl-C to stop)")
    console.print("export these to use it:")
    for key, value in client_environment(server.endpoint).items():
        console.print(f"  export {key}={value}", highlight=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping embedded S3")
    finally:
        server.stop()


@app.command()
@one_line_errors
def seed(config: ConfigArg) -> None:
    """Upload the bundled example dataset named by CONFIG's data.uri to S3."""
    from adaptml.config import load_config
    from adaptml.datasets import seed as seed_dataset

    cfg = load_config(config)
    console.print(f"uploaded {seed_dataset(cfg.data.uri)}")


@app.command()
@one_line_errors
def inspect(config: ConfigArg) -> None:
    """Read CONFIG's dataset from S3 and show its shape and column types."""
    from rich.table import Table

    from adaptml.config import load_config
    from adaptml.storage import Storage

    cfg = load_config(config)
    frame = Storage().read_dataset(cfg.data.uri)
    console.print(f"{cfg.data.uri}: {len(frame):,} rows x {frame.shape[1]} columns", highlight=False)
    table = Table()
    for column in ("column", "dtype", "missing", "unique"):
        table.add_column(column)
    for name in frame.columns:
        series = frame[name]
        table.add_row(str(name), str(series.dtype), f"{series.isna().sum():,}", f"{series.nunique():,}")
    console.print(table)


@app.command()
@one_line_errors
def train(
    config: ConfigArg,
    workers: Annotated[int, typer.Option(help="Luigi workers running tasks in parallel.")] = 1,
    scheduler_url: Annotated[
        str | None, typer.Option(help="A central luigid scheduler, e.g. http://localhost:8082.")
    ] = None,
) -> None:
    """Run the training pipeline and publish a new model version, signed with ADAPTML_SIGNING_KEY."""
    from adaptml.config import load_config
    from adaptml.pipeline.runner import train_command
    from adaptml.signing import SIGNING_KEY_ENV, Keys

    keys = Keys.from_environ(os.environ)
    if not keys.can_sign:
        err_console.print(
            f"[bold red]warning:[/] no {SIGNING_KEY_ENV}: this version is published UNSIGNED and apps will refuse "
            "it (create a key pair with `adaptml keygen`)",
            highlight=False,
        )
    signer = keys if keys.can_sign else None
    train_command(load_config(config), keys=signer, workers=workers, scheduler_url=scheduler_url, console=console)


@app.command()
@one_line_errors
def serve(
    config: Annotated[Path | None, typer.Option(help="The YAML config file.")] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    insecure_unsigned: InsecureOption = False,
) -> None:
    """Serve the web application with the latest published models (verified with ADAPTML_VERIFY_KEY)."""
    from adaptml.serving.server import serve_command
    from adaptml.serving.settings import Environment

    environment = Environment.read(os.environ, insecure_unsigned=insecure_unsigned)
    cfg = environment.config(config)  # a missing config is the first thing to say
    serve_command(cfg, _checked(environment), host=host, port=port, console=console)


@app.command()
@one_line_errors
def predict(
    config: ConfigArg,
    input_csv: Annotated[Path, typer.Argument(help="CSV of records to predict.", show_default=False)],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the CSV here.")] = None,
    insecure_unsigned: InsecureOption = False,
) -> None:
    """Predict a CSV with every model of the latest version (verified with ADAPTML_VERIFY_KEY), without a server."""
    from dataclasses import replace

    from adaptml.config import load_config
    from adaptml.serving.batch import predict_command
    from adaptml.serving.settings import Environment
    from adaptml.signing import warn_insecure

    cfg = load_config(config)
    environment = _checked(Environment.read(os.environ, reload_secret=False, insecure_unsigned=insecure_unsigned))
    if environment.keys.public is None:
        warn_insecure("adaptml predict")
    environment = replace(environment, keys=environment.keys.reader())  # predicting never needs to sign
    predict_command(cfg, input_csv, output, environment, console=console)


def _checked(environment: Any) -> Any:
    """The environment, when it can verify models (or says --insecure-unsigned); a one-line refusal otherwise."""
    from adaptml.signing import INSECURE_ENV, SIGNING_KEY_ENV, VERIFY_KEY_ENV

    keys = environment.keys
    if keys.public is None and not keys.insecure_unsigned:
        raise AdaptmlError(
            f"no {VERIFY_KEY_ENV} (or {SIGNING_KEY_ENV}) set: refusing to load models nobody signed. Set it to the "
            f"publisher's public key (`adaptml keygen` makes a pair), or pass --insecure-unsigned / {INSECURE_ENV}=1"
        )
    return environment


@app.command()
@one_line_errors
def keygen(
    private_file: Annotated[
        Path | None, typer.Option(help="Also write the private key here (PEM, mode 0600, never overwritten).")
    ] = None,
    public_file: Annotated[Path | None, typer.Option(help="Also write the public key here (PEM, mode 0600).")] = None,
) -> None:
    """Print a fresh Ed25519 key pair: the private key for publishers, the public key for apps."""
    from adaptml.signing import Keys, env_values, write_key_pair

    keys = Keys.generate()
    if private_file or public_file:
        if not (private_file and public_file):
            raise AdaptmlError("give both --private-file and --public-file, or neither")
        write_key_pair(keys, private_file, public_file)
        err_console.print(f"wrote {private_file} and {public_file} (mode 0600)", highlight=False)
    err_console.print("# publishers (train, promote) hold both; apps and predict hold only the second:")
    for name, value in env_values(keys).items():
        console.print(f"export {name}={value}", highlight=False, soft_wrap=True)


@app.command()
@one_line_errors
def versions(config: ConfigArg) -> None:
    """List every published version: date, best model and score, which is live, and whether it verifies."""
    from rich.table import Table

    from adaptml.config import load_config
    from adaptml.history import version_history
    from adaptml.registry import Registry
    from adaptml.signing import Keys

    cfg = load_config(config)
    keys = Keys.from_environ(os.environ).reader()
    registry = Registry(cfg.registry, cfg.project, keys=keys if keys.public is not None else None)
    table = Table(title=f"{cfg.project} versions")
    for column in ("version", "published", "best model", "score", "live", "status"):
        table.add_column(column)
    for row in version_history(registry):
        score = f"{row.metric} {row.score:.4g}" if row.score is not None and row.metric else ""
        live = "[bold green]live[/]" if row.live else ""
        table.add_row(row.version, row.published_at or "", row.best_model or "", score, live, row.status)
    console.print(table)


@app.command()
@one_line_errors
def promote(config: ConfigArg, version: Annotated[str, typer.Argument(help="The version to make live.")]) -> None:
    """Make a published version live again (a signed, recorded rollback): the one supported way back."""
    from adaptml.config import load_config
    from adaptml.registry import Registry
    from adaptml.signing import Keys

    cfg = load_config(config)
    latest = Registry(cfg.registry, cfg.project, keys=Keys.from_environ(os.environ)).promote(version)
    console.print(f"promoted {latest.version} of {cfg.project} (sequence {latest.sequence})", highlight=False)


@app.command(name="lambda-local")
@one_line_errors
def lambda_local(
    queue: Annotated[str, typer.Option(help="SQS queue URL or name carrying the S3 notifications.")] = "adaptml-reload",
    config: Annotated[
        Path | None, typer.Option(help="Config whose registry bucket is set to notify the queue (idempotent).")
    ] = None,
    target: Annotated[
        list[str] | None, typer.Option(help="Base URL of a serving app to notify (repeatable; else the env).")
    ] = None,
) -> None:
    """Run the reload Lambda handler locally, fed by the bucket's S3 notifications through SQS."""
    from adaptml.config import load_config
    from adaptml.reload.local import run_local
    from adaptml.storage import S3Uri

    registry = S3Uri.parse(load_config(config).registry) if config else None
    run_local(
        queue,
        console=console,
        bucket=registry.bucket if registry else None,
        prefix=registry.key if registry else "",
        targets=tuple(target or ()),
    )


@app.command()
@one_line_errors
def demo(
    config: Annotated[Path, typer.Option(help="The YAML config file.")] = Path("configs/hotel_rates.yaml"),
    port: Annotated[int, typer.Option(help="Port of the web app.")] = 8000,
    s3_port: Annotated[int, typer.Option(help="Port of the embedded S3 server.")] = 9000,
) -> None:
    """Start embedded S3, seed the example data, train, publish and serve until Ctrl-C."""
    from adaptml.demo import run_demo

    run_demo(config, port=port, s3_port=s3_port, console=console)


def main() -> None:
    app(prog_name="adaptml")


if __name__ == "__main__":  # pragma: no cover
    main()
