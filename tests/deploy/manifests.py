"""Readers for the deployment files, so tests can check what the images and compose services would run."""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
EMBEDDED_S3_OVERRIDE = ROOT / "docker-compose.embedded-s3.yml"
SAM_TEMPLATE = ROOT / "deploy" / "lambda" / "template.yaml"
OUR_IMAGES = ("adaptml-app:local", "adaptml-pipeline:local")


@dataclass(frozen=True)
class Stage:
    """One Dockerfile stage with what it inherits from the stage it is built FROM."""

    name: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    healthcheck: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    copies: tuple[tuple[str, str], ...] = ()  # (source in the build context, destination)

    @property
    def command(self) -> list[str]:
        return [*self.entrypoint, *self.cmd]


def logical_lines(text: str) -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments and blanks dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            lines.append(current.strip())
            current = ""
    return lines


def _exec_form(text: str) -> tuple[str, ...]:
    assert text.startswith("["), f"use the exec (JSON) form: {text}"
    return tuple(json.loads(text))


def _apply(stage: Stage, instruction: str, rest: str) -> Stage:
    if instruction == "ENTRYPOINT":
        return replace(stage, entrypoint=_exec_form(rest), cmd=())
    if instruction == "CMD":
        return replace(stage, cmd=_exec_form(rest))
    if instruction == "HEALTHCHECK":
        return replace(stage, healthcheck=_exec_form(rest[rest.index("CMD ") + 4 :].strip()))
    if instruction == "ENV":
        pairs = dict(item.split("=", 1) for item in shlex.split(rest))
        return replace(stage, env={**stage.env, **pairs})
    if instruction == "WORKDIR":
        return replace(stage, workdir=rest)
    if instruction == "COPY" and "--from=" not in rest:
        *sources, destination = [w for w in shlex.split(rest) if not w.startswith("--")]
        target = posixpath.normpath(posixpath.join(stage.workdir, destination))
        return replace(stage, copies=stage.copies + tuple((s, target) for s in sources))
    return stage


def dockerfile_stages(text: str | None = None) -> dict[str, Stage]:
    text = DOCKERFILE.read_text() if text is None else text
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            match = re.match(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert match, line
            base, name = match.group(1), match.group(2) or f"stage{len(stages)}"
            current = replace(stages[base], name=name) if base in stages else Stage(name)
            stages[name] = current
        elif current is not None:
            current = _apply(current, instruction, rest)
            stages[current.name] = current
    return stages


class _ComposeLoader(yaml.SafeLoader):
    """Reads Compose's merge tags: ``!reset`` and ``!override`` become ``Tagged`` values."""


@dataclass(frozen=True)
class Tagged:
    tag: str
    value: Any


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.MappingNode):
        value: Any = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)  # type: ignore[arg-type]
    return Tagged(node.tag, value)


for _tag in ("!reset", "!override"):
    _ComposeLoader.add_constructor(_tag, _tagged)


def compose(path: Path = COMPOSE) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=_ComposeLoader)  # noqa: S506 - a SafeLoader subclass
    return loaded


def our_services(spec: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The compose services that run an image built from this repository's Dockerfile."""
    spec = spec or compose()
    return {
        name: service
        for name, service in spec["services"].items()
        if "build" in service or service.get("image") in OUR_IMAGES
    }


def service_command(service: dict[str, Any], stages: dict[str, Stage]) -> list[str]:
    """What a compose service runs: its entrypoint/command over its image stage's defaults."""
    stage = stages[service["build"]["target"]]
    entrypoint = service.get("entrypoint", list(stage.entrypoint))
    command = service.get("command", list(stage.cmd) if "entrypoint" not in service else [])
    return [*entrypoint, *command]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: the last pattern matching the path or one of its parents decides."""
    ignored = False
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        cleaned = pattern.removeprefix("!").strip("/")
        if any(fnmatch.fnmatch(candidate, cleaned) for candidate in candidates):
            ignored = not negate
    return ignored


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
