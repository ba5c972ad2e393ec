"""The named steps of a whole pipeline, and how to cut one by name: code never counts step positions.

Every fitted model is ``coerce -> dates -> select -> encode -> model``; the first three are stateless and fitted once
per model, the rest per fit. The ensemble is ``coerce -> ensemble`` over its members' pipelines after ``coerce``.
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline

__all__ = ["BLEND", "COERCE", "DATES", "ENCODE", "MODEL", "SELECT", "after", "position", "split_before"]

COERCE = "coerce"  # raw record -> typed frame (the schema)
DATES = "dates"  # date parts
SELECT = "select"  # the selected feature columns
ENCODE = "encode"  # the model family's encoder: the first step that learns from the data
MODEL = "model"  # the estimator of a zoo spec
BLEND = "ensemble"  # the ensemble's weighted average


def position(pipeline: Pipeline, name: str) -> int:
    """The index of the step called ``name``; a ValueError naming the steps there are when it has none."""
    names = [step for step, _ in pipeline.steps]
    if name not in names:
        raise ValueError(f"pipeline has no step {name!r} (steps: {', '.join(names)})")
    return names.index(name)


def split_before(pipeline: Pipeline, name: str) -> tuple[Pipeline, Pipeline]:
    """The steps before ``name`` and the steps from ``name`` on, sharing the original step objects."""
    index = position(pipeline, name)
    return pipeline[:index], pipeline[index:]


def after(pipeline: Pipeline, name: str) -> Pipeline:
    """The steps after ``name``, sharing the original step objects."""
    return pipeline[position(pipeline, name) + 1 :]
