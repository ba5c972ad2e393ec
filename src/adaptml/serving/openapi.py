"""The OpenAPI 3.0 document: hand-written in templates/openapi.yaml, completed with the served version's columns."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from adaptml import __version__
from adaptml.schema import ColumnSpec, Schema

__all__ = ["openapi_spec"]


@lru_cache(maxsize=1)
def _base_spec() -> dict[str, Any]:
    text = resources.files("adaptml.serving").joinpath("templates/openapi.yaml").read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(json.dumps(yaml.safe_load(text)))  # plain JSON data, YAML anchors resolved
    return spec


def _column_schema(spec: ColumnSpec) -> dict[str, Any]:
    if spec.kind == "numeric":
        seen = f"; seen from {spec.min:g} to {spec.max:g}" if isinstance(spec.min, float | int) else ""
        return {"type": "number", "nullable": True, "description": f"numeric{seen}"}
    if spec.kind == "datetime":
        return {"type": "string", "format": "date", "nullable": True, "description": "a date (ISO 8601)"}
    shown = ", ".join(spec.categories[:8]) + (", ..." if len(spec.categories) > 8 else "")
    return {"type": "string", "nullable": True, "description": f"categorical, e.g. {shown}"}


def openapi_spec(schema: Schema | None = None, *, extra_paths: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document; with a served schema, a record's columns are described one by one with an example.

    ``extra_paths`` adds routes other parts attach to the app (the reload endpoint).
    """
    spec = copy.deepcopy(_base_spec())
    spec["info"]["version"] = __version__
    spec["paths"].update(copy.deepcopy(extra_paths or {}))
    if schema is not None:
        record = spec["components"]["schemas"]["Record"]
        record["properties"] = {column.name: _column_schema(column) for column in schema.columns}
        record["required"] = schema.names
        record["example"] = json.loads(json.dumps(schema.example, default=str))
    return spec
