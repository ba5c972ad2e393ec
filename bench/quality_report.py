"""The corpus table (bench/results/quality.md), regenerated from every dataset record in quality.json: adaptml
beside the HGB baseline and each peer, the paired-bootstrap verdict of adaptml against each, the wall times, the
wins/ties/losses counts, and every crash with its error. Also the one-line progress print of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LABELS = {"hgb": "HGB", "flaml": "FLAML", "autogluon": "AutoGluon"}
MARKS = {"win": "W", "tie": "T", "loss": "L"}


def label(tool: str) -> str:
    return LABELS.get(tool, tool)


def tool_records(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every tool's part of a dataset record, by the name its predictions are saved under."""
    parts = {"adaptml": record.get("adaptml"), "hgb": record.get("baselines", {}).get("hgb"), **record.get("peers", {})}
    return {tool: part for tool, part in parts.items() if part}


def _figure(metric: str, part: dict[str, Any] | None) -> str:
    value = (part or {}).get(metric)
    return "-" if value is None else f"{value:.4f}"


def _seconds(part: dict[str, Any] | None) -> str:
    part = part or {}
    wall = part.get("train_wall_seconds", part.get("wall_seconds"))
    return "-" if wall is None else f"{wall:.0f}"


def _verdict(record: dict[str, Any], tool: str) -> str:
    found = record.get("noise", {}).get(tool)
    if not found:
        return "-"
    return f"{MARKS[found['verdict']]} {found['difference']:+.4f}"


def _load(record: dict[str, Any]) -> str:
    """The highest 1-minute load average any part of the record was measured under (2 cores: above 2, every
    tool got less than a core and budgets bought less work)."""
    loads = [part["load_average"][0] for part in tool_records(record).values() if part.get("load_average")]
    return f"{max(loads):.0f}" if loads else "-"


def _error(part: dict[str, Any]) -> str:
    return "" if part.get("status") == "ok" else f"{part.get('status')}: {part.get('error') or ''}"


def _row(name: str, record: dict[str, Any], opponents: list[str]) -> list[str]:
    ours, metric, tools = record.get("adaptml", {}), record["metric"], tool_records(record)
    return [
        name,
        f"{record['rows']:,}",
        str(record["cols"]),
        record["task"],
        metric,
        _figure(metric, ours),
        str(ours.get("best_model", "-")),
        *[_figure(metric, tools.get(tool)) for tool in opponents],
        *[_verdict(record, tool) for tool in opponents],
        *[_seconds(tools.get(tool)) for tool in ["adaptml", *opponents[1:]]],
        "; ".join(ours.get("leakage", []))[:80] or "-",
        str(ours.get("commit", "-")),
        _load(record),
        (_error(ours) if ours else "not run").replace("|", "\\|")[:160],
    ]


def opponents_of(results: dict[str, Any]) -> list[str]:
    peers = sorted({peer for record in results.values() for peer in record.get("peers", {})})
    return ["hgb", *[p for p in LABELS if p in peers and p != "hgb"], *[p for p in peers if p not in LABELS]]


def table(results: dict[str, Any]) -> str:
    opponents = opponents_of(results)
    headers = ["dataset", "rows", "cols", "task", "metric", "adaptml", "best model"]
    headers += [label(t) for t in opponents] + [f"vs {label(t)}" for t in opponents]
    headers += ["adaptml s", *[f"{label(t)} s" for t in opponents[1:]], "leak flags", "adaptml commit", "load"]
    headers += ["crash / error"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_row(name, record, opponents)) + " |" for name, record in results.items()]
    return "\n".join(lines)


def tally(results: dict[str, Any], tool: str) -> dict[str, int]:
    """adaptml's wins, ties and losses against ``tool`` (paired bootstrap, where both tools' test-row outputs are
    saved), and how often it is ahead on the recorded point scores alone, over the datasets where both scored."""
    counts = {"win": 0, "tie": 0, "loss": 0, "ahead": 0, "judged": 0, "scored": 0}
    for record in results.values():
        found = record.get("noise", {}).get(tool)
        if found:
            counts[found["verdict"]] += 1
            counts["judged"] += 1
        ours, theirs = (_score(record, part) for part in (record.get("adaptml"), tool_records(record).get(tool)))
        if ours is not None and theirs is not None:
            counts["scored"] += 1
            counts["ahead"] += int(ours > theirs if record["higher_is_better"] else ours < theirs)
    return counts


def _score(record: dict[str, Any], part: dict[str, Any] | None) -> float | None:
    value = (part or {}).get(record["metric"]) if (part or {}).get("status") == "ok" else None
    return None if value is None else float(value)


def overruns(results: dict[str, Any], tool: str) -> str:
    values = [
        part["overrun_seconds"]
        for record in results.values()
        if (part := tool_records(record).get(tool)) and part.get("overrun_seconds") is not None
    ]
    plural = "s" if len(values) != 1 else ""
    return f"max {max(values):+.0f} s over {len(values)} dataset{plural}" if values else "-"


def summary(results: dict[str, Any]) -> list[str]:
    lines = ["| adaptml against | wins | ties | losses | judged | ahead on the point score | time overrun |"]
    lines.append("|---|---|---|---|---|---|---|")
    for tool in opponents_of(results):
        c = tally(results, tool)
        figures = f"{c['win']} | {c['tie']} | {c['loss']} | {c['judged']} | {c['ahead']} of {c['scored']}"
        lines.append(f"| {label(tool)} | {figures} | {overruns(results, tool)} |")
    lines.append(f"| (adaptml itself) | | | | | | {overruns(results, 'adaptml')} |")
    return lines


def unequal_budgets(results: dict[str, Any]) -> list[str]:
    """Peers that ran with another budget than adaptml's recorded run (re-run them with ``--peers``)."""
    lines = []
    for name, record in results.items():
        ours = record.get("adaptml", {}).get("budget_seconds")
        for peer, part in record.get("peers", {}).items():
            if ours is not None and part.get("budget_seconds") not in (None, ours):
                lines.append(f"- **{name}** {label(peer)}: {part['budget_seconds']:g} s, adaptml {ours:g} s")
    return lines


def crashes(results: dict[str, Any]) -> list[str]:
    return [
        f"- **{name}** {label(tool)} ({part.get('status')}): `{part.get('error')}`"
        for name, record in results.items()
        for tool, part in tool_records(record).items()
        if part.get("status") != "ok"
    ]


def peer_settings(results: dict[str, Any]) -> list[str]:
    seen: dict[str, set[str]] = {}
    for record in results.values():
        for peer, part in record.get("peers", {}).items():
            if part.get("settings"):
                seen.setdefault(peer, set()).add(f"{part['settings']} (version {part.get('version')})")
    return [f"- {label(peer)}: {'; '.join(sorted(texts))}" for peer, texts in sorted(seen.items())]


def write_markdown(results: dict[str, Any], path: Path) -> None:
    ok = sum(r.get("adaptml", {}).get("status") == "ok" for r in results.values())
    lines = [
        "# Robustness corpus: adaptml against a default HistGradientBoosting and the peers at equal wall time",
        "",
        f"`python -m bench quality [--peers]`: {ok} of {len(results)} datasets trained, published and scored by "
        "adaptml. Scores on the held-back 20 % (roc_auc, macro one-vs-rest for multiclass: higher is better; rmse: "
        "lower is better). `vs X`: adaptml's paired-bootstrap verdict against X (W win, T tie, L loss: the 95 % "
        "interval of the score difference over 1,000 resamples of the test rows excludes 0 or not) and the "
        "difference adaptml minus X. Seconds: adaptml's CLI wall time; a peer's from launch to the end of its fit. "
        "load: the highest 1-minute load average any of the row's figures was measured under (2 cores: figures "
        "measured far above 2 are starved of CPU and not comparable across rows).",
        "",
        table(results),
        "",
        "## Wins, ties and losses",
        "",
        *summary(results),
        "",
    ]
    settings = peer_settings(results)
    if settings:
        lines += ["## Peer settings", "", *settings, ""]
    unequal = unequal_budgets(results)
    if unequal:
        lines += ["## Peers measured at another budget than adaptml", "", *unequal, ""]
    failed = crashes(results)
    if failed:
        lines += ["## Crashes", "", *failed, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def show(name: str, record: dict[str, Any]) -> None:
    """One line per tool of a just-measured dataset, then adaptml's budget facts and the verdicts."""
    metric = record["metric"]
    for tool, part in tool_records(record).items():
        figure = _figure(metric, part) if part.get("status") == "ok" else f"{part.get('status')}: {part.get('error')}"
        print(f"  {name} {label(tool)}: {figure} in {_seconds(part)} s", flush=True)
    ours = record.get("adaptml", {})
    if "fit_rows" in ours:
        budget = f"budget {ours.get('budget_seconds')} s, overrun {ours.get('overrun_seconds')} s"
        fit = f"fit_rows {ours['fit_rows']}, refit {ours.get('refit')}, skipped {ours.get('skipped')}"
        print(f"    {budget}; {fit}; best {ours.get('best_model')}", flush=True)
    verdicts = ", ".join(f"{label(t)} {v['verdict']}" for t, v in record.get("noise", {}).items())
    print(f"    adaptml vs {verdicts or '-'}", flush=True)
