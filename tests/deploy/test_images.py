"""Every command the Docker images and compose services run exists in the package, with valid options.

No Docker engine is available here, so each command is checked the way its program would read it: the adaptml
CLI's own parser, gunicorn's parser and app loader, the dask CLI's parser, Python's compiler, and the config
files the commands name, mapped from their path in the image back to the repository.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
import pytest
from typer.main import get_command

from adaptml.cli import app as cli_app
from adaptml.config import load_config
from adaptml.signing import Keys, env_values

from .manifests import ROOT, dockerfile_stages, dockerignore_patterns, dockerignored, our_services, service_command

IMAGE_PATH = re.compile(r"/app/\S+\.ya?ml")


def _repo_path(image_path: str) -> Path:
    """Where a file the image has at ``image_path`` comes from in the repository (via the Dockerfile's COPYs)."""
    for source, destination in dockerfile_stages()["app"].copies:
        if image_path.startswith(destination.rstrip("/") + "/"):
            return ROOT / source / image_path[len(destination.rstrip("/")) + 1 :]
    raise AssertionError(f"{image_path} is not copied into the image")


def _all_commands() -> list[tuple[str, list[str], dict[str, str]]]:
    """(where, argv, environment) of every command the images and our compose services run."""
    stages = dockerfile_stages()
    found = []
    for name in ("pipeline", "app"):
        stage = stages[name]
        found.append((f"Dockerfile {name} CMD", stage.command, stage.env))
        if stage.healthcheck:
            found.append((f"Dockerfile {name} HEALTHCHECK", list(stage.healthcheck), stage.env))
    for name, service in our_services().items():
        env = {**stages[service["build"]["target"]].env, **service.get("environment", {})}
        found.append((f"compose {name}", service_command(service, stages), env))
        test = service.get("healthcheck", {}).get("test")
        if test and test[0] == "CMD":
            found.append((f"compose {name} healthcheck", test[1:], env))
    return found


def _check_adaptml(args: list[str]) -> None:
    group = get_command(cli_app)
    context = click.Context(group, info_name="adaptml")
    command = group.get_command(context, args[0])  # type: ignore[attr-defined]
    assert command is not None, f"adaptml has no command {args[0]!r}"
    command.make_context(args[0], list(args[1:]), parent=context)  # raises on unknown options / missing args


def _load_wsgi(uri: str, env: dict[str, str]) -> list[str]:
    """Load ``uri`` as gunicorn does, in a fresh process with the image's environment; the app's routes."""
    script = (
        "import json, sys\nfrom gunicorn.util import import_app\napp = import_app(sys.argv[1])\n"
        "print(json.dumps(sorted({r.rule for r in app.url_map.iter_rules()})))"
    )
    config = env.get("ADAPTML_CONFIG")
    keys = env_values(Keys.generate())  # what compose's required ${VAR:?} keys and secrets are set to on a real host
    env = {k: keys.get(k, secrets.token_hex(16)) if str(v).startswith("${") else v for k, v in env.items()}
    child_env = {**os.environ, **env, **({"ADAPTML_CONFIG": str(_repo_path(config))} if config else {})}
    child_env.pop("DASK_SCHEDULER_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-c", script, uri], env=child_env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    routes: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return routes


def _check_gunicorn(args: list[str], env: dict[str, str]) -> list[str]:
    from gunicorn.config import Config

    options = Config().parser().parse_args([*env.get("GUNICORN_CMD_ARGS", "").split(), *args])
    (uri,) = options.args
    return _load_wsgi(uri, env)


def _check_dask(args: list[str]) -> None:
    commands = {e.name: e for e in entry_points(group="dask_cli")}
    assert args[0] in commands, f"dask has no subcommand {args[0]!r}"
    command = commands[args[0]].load()
    command.make_context(f"dask {args[0]}", list(args[1:]))


def _check_python(args: list[str]) -> None:
    assert args[0] == "-c"
    compile(args[1], "<healthcheck>", "exec")


@pytest.fixture(scope="module")
def wsgi_routes(s3_server: Any) -> dict[str, list[str]]:
    """Routes of every gunicorn app the images run (loaded once per app path)."""
    routes: dict[str, list[str]] = {}
    for _, argv, env in _all_commands():
        if argv[0] == "gunicorn":
            key = " ".join(argv)
            routes.setdefault(key, _check_gunicorn(argv[1:], env))
    return routes


@pytest.mark.parametrize(("where", "argv", "env"), _all_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_the_command_exists_and_parses(where, argv, env, wsgi_routes):
    program, args = argv[0], argv[1:]
    if program == "adaptml":
        _check_adaptml(args)
    elif program == "gunicorn":
        assert "/healthz" in wsgi_routes[" ".join(argv)], where
    elif program == "dask":
        _check_dask(args)
    elif program == "python":
        _check_python(args)
    else:
        raise AssertionError(f"{where}: unexpected program {program!r}")
    for path in IMAGE_PATH.findall(" ".join([*argv, *env.values()])):
        assert load_config(_repo_path(path)).project, f"{where}: {path}"


def _bound_port(argv: list[str], env: dict[str, str]) -> str:
    """The port a gunicorn command listens on: its --bind, else GUNICORN_CMD_ARGS's, else gunicorn's $PORT default."""
    for args in (argv, env.get("GUNICORN_CMD_ARGS", "").split()):
        if "--bind" in args:
            return args[args.index("--bind") + 1].rsplit(":", 1)[1]
    return env["PORT"]


def _probed(healthcheck: list[str], env: dict[str, str]) -> tuple[str, str]:
    """(port, path) a python healthcheck probes; a ``%s`` port is the container's $PORT."""
    url = re.search(r"http://127\.0\.0\.1:(\d+|%s)(/\S*?)'", healthcheck[2])
    assert url, healthcheck
    port, path = url.groups()
    return (env["PORT"] if port == "%s" else port), path


def _checked_pairs() -> list[tuple[str, list[str], list[str], dict[str, str]]]:
    """(where, server argv, healthcheck argv, env): each healthcheck with the command of the same image or service;
    a compose service without its own healthcheck inherits its image's."""
    commands = {where: (argv, env) for where, argv, env in _all_commands()}
    stages = dockerfile_stages()
    pairs = []
    for where, (argv, env) in commands.items():
        if where.endswith(("HEALTHCHECK", "healthcheck")):
            server = where.rsplit(" ", 1)[0] + (" CMD" if where.startswith("Dockerfile") else "")
            pairs.append((where, commands[server][0], argv, env))
        elif where.startswith("compose ") and f"{where} healthcheck" not in commands:
            service = our_services()[where.removeprefix("compose ")]
            inherited = stages[service["build"]["target"]].healthcheck
            if inherited and not service.get("healthcheck", {}).get("disable"):
                pairs.append((f"{where} (image HEALTHCHECK)", argv, list(inherited), env))
    return pairs


def test_healthchecks_probe_routes_the_servers_have(wsgi_routes):
    pairs = _checked_pairs()
    assert {"Dockerfile app HEALTHCHECK", "compose app (image HEALTHCHECK)"} <= {where for where, *_ in pairs}
    for where, server, healthcheck, env in pairs:
        assert healthcheck[0] == "python", where
        port, path = _probed(healthcheck, env)
        if server[:2] == ["dask", "scheduler"]:
            import distributed.http.health  # noqa: F401 - the scheduler's /health route

            assert path == "/health" and server[server.index("--dashboard-address") + 1].endswith(f":{port}"), where
            continue
        assert server[0] == "gunicorn", where
        assert _bound_port(server, env) == port, f"{where}: probes {port}, the server listens elsewhere"
        assert path in wsgi_routes[" ".join(server)], where


def test_the_console_script_is_installed():
    script = Path(sys.executable).with_name("adaptml")
    assert script.exists()
    (entry,) = [e for e in entry_points(group="console_scripts") if e.name == "adaptml"]
    assert callable(entry.load())


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_heavy():
    patterns = dockerignore_patterns()
    sources = {source for stage in dockerfile_stages().values() for source, _ in stage.copies}
    assert sources >= {"pyproject.toml", "README.md", "src", "configs"}
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not dockerignored(source, patterns), source
    assert not dockerignored("src/adaptml/reload/handler.py", patterns)
    assert not dockerignored("src/adaptml/datasets/hotel_rates.csv.gz", patterns)
    for heavy in (".venv/bin/python", ".git/HEAD", "tests/conftest.py", "src/adaptml/__pycache__/cli.cpython-311.pyc"):
        assert dockerignored(heavy, patterns), heavy
