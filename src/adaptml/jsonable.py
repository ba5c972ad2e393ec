"""Plain, JSON-ready Python values from numpy/pandas ones: shared by the EDA summary and the serving responses."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_safe", "to_python"]


def to_python(value: Any) -> Any:
    """A JSON-ready scalar: numpy scalars unwrapped; NaN, infinities and NaT as None (JSON has none of them)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def json_safe(value: Any) -> Any:
    """``to_python`` applied through nested dicts, lists and tuples (keys become strings)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return to_python(value)
