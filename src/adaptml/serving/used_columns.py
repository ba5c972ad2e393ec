"""Which input columns the models of a version actually use, read from the fitted pipelines themselves.

Feature selection (``selection.enabled``) may drop features; the pipelines then keep only the selected ones in their
``select`` step (``training.features.ColumnSelector``), and an ensemble blends members that each have their own.
A raw column is used when a model keeps it, or, for a date, any of its parts. A column no model uses is optional
at serving time (the form marks it unused, the API accepts records without it). When a model's selection cannot
be read (a pipeline of another shape), every column counts as used: nothing is ever made optional by guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adaptml.schema import Schema
from adaptml.training.features import DATE_PARTS, ColumnSelector

__all__ = ["selected_features", "unused_columns"]


def selected_features(model: Any) -> frozenset[str] | None:
    """The features a fitted model keeps (the union over an ensemble's members), or None when it cannot be told."""
    for _, step in getattr(model, "steps", None) or ():
        if isinstance(step, ColumnSelector):
            return frozenset(str(name) for name in step.columns)
    last = model.steps[-1][1] if getattr(model, "steps", None) else model
    members = getattr(last, "members", None)
    if not members:
        return None
    kept: set[str] = set()
    for _, member in members:
        found = selected_features(member)
        if found is None:
            return None
        kept |= found
    return frozenset(kept)


def unused_columns(schema: Schema, models: Mapping[str, Any]) -> tuple[str, ...]:
    """The schema's columns (in schema order) that no model uses; empty when any model's use cannot be told."""
    kept: set[str] = set()
    for model in models.values():
        found = selected_features(model)
        if found is None:
            return ()
        kept |= found
    unused = []
    for spec in schema.columns:
        derived = {f"{spec.name}_{part}" for part in DATE_PARTS} if spec.kind == "datetime" else set()
        if spec.name not in kept and not derived & kept:
            unused.append(spec.name)
    return tuple(unused) if len(unused) < len(schema.columns) else ()
