"""Exploratory data analysis of a cleaned dataset: a self-contained HTML report, PNG plots, alerts and leakage.

``explore`` is pure: it takes the typed frame (target included) and returns an ``EdaResult`` whose ``files`` the
pipeline publishes under ``eda/`` next to each other (``report.html`` and ``plots/*.png``).
"""

from __future__ import annotations

from adaptml.eda.core import explore
from adaptml.eda.result import Alert, EdaResult, LeakageSuspect

__all__ = ["Alert", "EdaResult", "LeakageSuspect", "explore"]
