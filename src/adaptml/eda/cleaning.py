"""The cleaning report in words: (decision, detail) lines for the terminal and tables for the EDA report.

Takes the report as its JSON dict (``CleaningReport.to_dict()``), so the EDA stays independent of training code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Table", "cleaning_lines", "cleaning_tables"]


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


Table = tuple[str, list[str], list[list[str]]]  # (title, headers, rows) in plain text


def cleaning_tables(report: Mapping[str, Any]) -> list[Table]:
    """The cleaning report as the EDA report's tables: the counts, then per column what was dropped (and why), read
    as missing, parsed from text or left unparsed. Tables without a row are left out."""
    markers = report.get("target_missing_markers") or {}
    spelled = f" (read as missing: {_spellings(markers)})" if markers else ""
    counts = [
        ["Rows", f"{report['rows_in']:,} read, {report['rows_out']:,} kept"],
        ["Columns", f"{report['columns_in']:,} read, {report['columns_out']:,} kept (target included)"],
        ["Rows without a target", f"{report['missing_target_rows']:,} dropped{spelled}"],
        ["Duplicate rows", f"{report['duplicate_rows']:,} exact repeats removed (after ID-like columns)"],
    ]
    dropped = [[name, why] for name, why in (report.get("dropped_columns") or {}).items()]
    missing_after = report.get("missing_values") or {}
    marker_rows = [
        [name, _spellings(spellings), f"{missing_after.get(name, 0):,}"]
        for name, spellings in (report.get("missing_markers") or {}).items()
    ]
    marked = {row[0] for row in marker_rows}
    marker_rows += [[name, "empty cells only", f"{n:,}"] for name, n in missing_after.items() if name not in marked]
    types = _type_rows(report)
    tables: list[Table] = [
        ("What cleaning did", [], counts),
        ("Columns dropped", ["Column", "Why"], dropped),
        ("Missing values", ["Column", "Spellings read as missing", "Missing after cleaning"], marker_rows),
        ("Types and text", ["Column", "Read as", "What was done to the text"], types),
    ]
    return [table for table in tables if table[2]]


def _type_rows(report: Mapping[str, Any]) -> list[list[str]]:
    """Per column: the type it was read as, and what was done to its text (parsed, stripped, left unparsed)."""
    notes: dict[str, list[str]] = {}
    for name, kind in (report.get("parsed_from_text") or {}).items():
        notes.setdefault(name, []).append(f"parsed as {kind}")
    for name, count in (report.get("unparsed_values") or {}).items():
        notes.setdefault(name, []).append(f"{count:,} value(s) not a {_kind(report, name)}")
    for name, words in (report.get("kept_as_levels") or {}).items():
        notes.setdefault(name, []).append(f"kept as category levels: {', '.join(repr(w) for w in words)}")
    for name, count in (report.get("whitespace_stripped") or {}).items():
        notes.setdefault(name, []).append(f"whitespace stripped from {count:,} value(s)")
    kinds = report.get("kinds") or {}
    names = list(kinds) + [name for name in notes if name not in kinds]
    return [[name, kinds.get(name, "—"), "; ".join(notes.get(name, [])) or "—"] for name in names]
