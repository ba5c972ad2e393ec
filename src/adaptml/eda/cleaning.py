"""The cleaning report in words: one (decision, detail) line per kind of change, for the EDA report and summary.

Takes the report as its JSON dict (``CleaningReport.to_dict()``), so the EDA stays independent of training code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["cleaning_lines"]


def cleaning_lines(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every decision cleaning made, as plain-text (decision, detail) pairs in the order cleaning made them."""
    lines = [("Rows", f"{report['rows_in']:,} read, {report['rows_out']:,} kept")]
    lines.append(("Columns", f"{report['columns_in']:,} read, {report['columns_out']:,} kept (target included)"))
    markers = report.get("target_missing_markers") or {}
    spelled = f" (read as missing: {_spellings(markers)})" if markers else ""
    lines.append(("Rows without a target", f"{report['missing_target_rows']:,} dropped{spelled}"))
    lines.append(("Duplicate rows", f"{report['duplicate_rows']:,} exact repeats removed (after ID-like columns)"))
    for name, why in report.get("dropped_columns", {}).items():
        lines.append(("Column dropped", f"{name}: {why}"))
    for name, counts in report.get("missing_markers", {}).items():
        lines.append(("Read as missing", f"{name}: {_spellings(counts)}"))
    for name, words in report.get("kept_as_levels", {}).items():
        shown = ", ".join(repr(word) for word in words)
        lines.append(("Kept as category levels", f"{name}: {shown} (a level of the column, not a missing marker)"))
    for name, kind in report.get("parsed_from_text", {}).items():
        lines.append(("Parsed from text", f"{name}: {kind}"))
    for name, count in report.get("unparsed_values", {}).items():
        lines.append(("Unparseable values", f"{name}: {count:,} value(s) that are not a {_kind(report, name)}"))
    stripped = report.get("whitespace_stripped", {})
    if stripped:
        listed = ", ".join(f"{name} ({count:,})" for name, count in stripped.items())
        lines.append(("Whitespace stripped", listed))
    return lines


def _spellings(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{marker!r} × {count:,}" for marker, count in counts.items())


def _kind(report: Mapping[str, Any], name: str) -> str:
    kind = report.get("kinds", {}).get(name, "value")
    return {"numeric": "number", "datetime": "date"}.get(kind, kind) + ", made missing"
