"""The single-record form, generated from the schema: one input per column, prefilled with the example.

The observed range of a number or date is shown as a hint, never enforced: a value outside it is scored with a
warning (``serving/warnings.py``), since a real record may well lie beyond what training saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from adaptml.schema import ColumnSpec, Schema

__all__ = ["FormField", "form_fields"]

Widget = Literal["number", "select", "date", "text"]


@dataclass(frozen=True)
class FormField:
    name: str
    widget: Widget
    value: str
    hint: str
    min: str | None = None
    max: str | None = None
    step: str | None = None
    options: tuple[str, ...] = ()
    nullable: bool = True

    @property
    def placeholder(self) -> str:
        """The observed range as a hint in an empty input (the range bounds nothing: see ``hint``)."""
        if self.min is None or self.max is None:
            return ""
        return f"{_shown(self.min)} to {_shown(self.max)}" if self.widget == "number" else ""


def _number(value: float | str | None, integer: bool) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(int(value)) if integer else repr(float(value))


def _shown(value: str | None) -> str:
    """A bound for the hint, to 6 significant digits (the input's data-seen-min/max keep the exact value)."""
    try:
        return f"{float(value):.6g}" if value is not None else ""
    except ValueError:
        return str(value)


def _value(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _field(spec: ColumnSpec, raw: Any) -> FormField:
    value = _value(raw)
    if spec.kind == "numeric":
        low, high = _number(spec.min, spec.integer), _number(spec.max, spec.integer)
        kind = "whole number" if spec.integer else "number"
        hint = f"{kind}, seen from {_shown(low)} to {_shown(high)}" if low is not None else kind
        return FormField(spec.name, "number", value, hint, low, high, "1" if spec.integer else "any", (), spec.nullable)
    if spec.kind == "datetime":
        low = str(spec.min)[:10] if spec.min else None
        high = str(spec.max)[:10] if spec.max else None
        hint = f"date, seen from {low} to {high}" if low else "date"
        return FormField(spec.name, "date", value[:10], hint, low, high, None, (), spec.nullable)
    complete = spec.n_unique <= len(spec.categories)
    options = tuple(sorted(spec.categories, key=str.casefold))
    if value and value not in options:
        options = (value, *options)
    hint = f"one of {len(spec.categories)} categories" if complete else f"{spec.n_unique} categories seen; type any"
    return FormField(spec.name, "select" if complete else "text", value, hint, options=options, nullable=spec.nullable)


def form_fields(schema: Schema, values: Mapping[str, Any] | None = None) -> list[FormField]:
    """One field per schema column, valued from ``values`` or else the schema's example record."""
    chosen = values if values is not None else schema.example
    return [_field(spec, chosen.get(spec.name)) for spec in schema.columns]
