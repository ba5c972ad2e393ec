"""The corpus table (bench/results/quality.md): one row per dataset, adaptml beside the HGB baseline, every
crash listed with its error. Peers, once recorded under ``peers``, get a column each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HEADERS = [
    "dataset",
    "rows",
    "cols",
    "task",
    "metric",
    "adaptml",
    "best model",
    "HGB",
    "adaptml s",
    "leak flags",
    "crash / error",
]


def _figure(record: dict[str, Any], part: dict[str, Any]) -> str:
    value = part.get(record["metric"])
    return "-" if value is None else f"{value:.4f}"


def _row(name: str, record: dict[str, Any], peers: list[str]) -> list[str]:
    ours = record["adaptml"]
    error = "" if ours["status"] == "ok" else f"{ours['status']}: {ours.get('error') or ''}"
    cells = [
        name,
        f"{record['rows']:,}",
        str(record["cols"]),
        record["task"],
        record["metric"],
        _figure(record, ours),
        str(ours.get("best_model", "-")),
        _figure(record, record["baselines"]["hgb"]),
        *[_figure(record, record["peers"].get(peer, {})) for peer in peers],
        f"{ours['wall_seconds']:.0f}",
        "; ".join(ours.get("leakage", []))[:80] or "-",
        error.replace("|", "\\|")[:160],
    ]
    return cells


def table(results: dict[str, Any]) -> str:
    peers = sorted({peer for record in results.values() for peer in record["peers"]})
    headers = [*HEADERS[:8], *peers, *HEADERS[8:]]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_row(name, record, peers)) + " |" for name, record in results.items()]
    return "\n".join(lines)


def crashes(results: dict[str, Any]) -> list[str]:
    return [
        f"- **{name}** ({record['adaptml']['status']}): `{record['adaptml'].get('error')}`"
        for name, record in results.items()
        if record["adaptml"]["status"] != "ok"
    ]


def write_markdown(results: dict[str, Any], path: Path, *, budget: float | None) -> None:
    ok = sum(r["adaptml"]["status"] == "ok" for r in results.values())
    lines = [
        "# Robustness corpus: adaptml against a default HistGradientBoosting",
        "",
        f"`python -m bench quality{f' --budget {budget:g}' if budget is not None else ''}`: {ok} of "
        f"{len(results)} datasets trained, published and scored. Scores on the held-back 20 % "
        "(roc_auc: higher is better; rmse: lower is better).",
        "",
        table(results),
        "",
    ]
    failed = crashes(results)
    if failed:
        lines += ["## Crashes", "", *failed, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
