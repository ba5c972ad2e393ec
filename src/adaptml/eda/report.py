"""The self-contained HTML report: one column, a sticky contents bar, leakage first, plotly.js inlined once."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from html import escape
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from adaptml.eda.cleaning import Table
from adaptml.eda.result import Alert, LeakageSuspect
from adaptml.eda.style import CSS

__all__ = ["APP_LINK", "ReportParts", "SECTIONS", "render_report"]

# The app serves this report at <app>/eda/ (serving.pages.eda), so "../" is the app's home page, under any URL prefix.
APP_LINK = "../"

SECTIONS = {
    "leakage": "Leakage suspects",
    "overview": "Overview",
    "cleaning": "Cleaning",
    "alerts": "Alerts",
    "target": "Target",
    "related": "Target vs related features",
    "correlations": "Correlations",
    "missing": "Missing values",
    "columns": "Columns",
}

LABELS = {"missing_pct": "missing %", "zeros_pct": "zeros %", "top_pct": "top %", "top": "most frequent"}


@dataclass
class ReportParts:
    """What the report shows; figures are grouped by section id, PNGs keyed by their path under plots/."""

    title: str
    target: str
    task: str
    summary: dict[str, Any]
    alerts: tuple[Alert, ...]
    leakage: tuple[LeakageSuspect, ...]
    leakage_scope: str
    measure: str
    figures: dict[str, list[go.Figure]] = field(default_factory=dict)
    column_plots: dict[str, str] = field(default_factory=dict)  # column -> plots/x.png
    extra_plots: dict[str, str] = field(default_factory=dict)  # section -> plots/x.png
    pngs: dict[str, bytes] = field(default_factory=dict)
    missing_patterns: list[tuple[str, int]] = field(default_factory=list)
    cleaning: list[Table] = field(default_factory=list)  # eda.cleaning.cleaning_tables
    app_link: str | None = APP_LINK  # where "back to the app" points; None leaves the links out


class _FigureWriter:
    """Turns figures into HTML divs with stable ids; plotly.js itself is inlined once in the page head."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, figure: go.Figure) -> str:
        self.count += 1
        html = figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"figure-{self.count}",
            config={"displaylogo": False, "responsive": True},
        )
        return f'<div class="figure">{html}</div>'


def _table(headers: list[str] | None, rows: list[list[str]], css: str = "") -> str:
    """An HTML table; cells are already-escaped HTML, headers plain text (None for a key/value table)."""
    head = "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr></thead>" if headers else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css}">{head}<tbody>{body}</tbody></table>'


def _img(parts: ReportParts, path: str, alt: str) -> str:
    data = base64.b64encode(parts.pngs[path]).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}" data-file="{escape(path)}">'


def _leakage(parts: ReportParts) -> str:
    if not parts.leakage:
        return f'<div class="box ok"><strong>No leakage suspects.</strong> {escape(parts.leakage_scope)}</div>'
    rows = [[escape(", ".join(s.columns)), escape(s.evidence), f"{s.score:.4f}"] for s in parts.leakage]
    intro = (
        f"<p><strong>{len(parts.leakage)} leakage suspect{'s' * (len(parts.leakage) > 1)}.</strong> These columns "
        f"reproduce <code>{escape(parts.target)}</code> almost perfectly; unless they are truly known at prediction "
        f"time, list them under <code>data.drop</code> in the config. {escape(parts.leakage_scope)}</p>"
    )
    return f'<div class="box danger">{intro}{_table(["Columns", "Evidence", "Score"], rows, "leak")}</div>'


def _overview(parts: ReportParts) -> str:
    s = parts.summary
    types = ", ".join(f"{n} {k}" for k, n in s["types"].items() if n)
    sample = (
        f"plots, associations and leakage checks use a seeded sample of {s['sampled_rows']:,} of {s['rows']:,} rows"
        if s["sampled"]
        else "all rows are used for plots and checks"
    )
    rows = [
        ["Rows", f"{s['rows']:,}"],
        ["Columns", f"{s['columns']:,} ({escape(types)})"],
        ["Target", f"<code>{escape(parts.target)}</code> ({escape(parts.task)})"],
        ["Missing cells", f"{s['missing_cells']:,} ({s['missing_cells_pct']:.1f}%)"],
        ["Duplicate rows", f"{s['duplicate_rows']:,} ({s['duplicate_rows_pct']:.1f}%)"],
        ["Memory", f"{s['memory_bytes'] / 2**20:,.1f} MiB"],
        ["Sampling", escape(sample)],
    ]
    return _table(None, rows, "facts")


def _cleaning(parts: ReportParts) -> str:
    if not parts.cleaning:
        return "<p>No cleaning report was given: the data is shown as it was passed in.</p>"
    note = "<p>Every change made to the raw table before this analysis; the data below is the cleaned table.</p>"
    tables = []
    for title, headers, rows in parts.cleaning:
        cells = [[escape(cell) for cell in row] for row in rows]
        slug = title.lower().replace(" ", "-")
        tables.append(f"<h3>{escape(title)}</h3>" + _table(headers or None, cells, f"cleaning facts {slug}"))
    return note + "".join(tables)


def _app_links(link: str | None) -> str:
    """Links back to the app that serves this report at ``/eda/``; hidden when the page is opened anywhere else
    (a file, the bucket), where a relative link would lead nowhere."""
    if link is None:
        return ""
    base = escape(link, quote=True)
    links = f'<a href="{base}">← Back to the app</a><a href="{base}leaderboard">Leaderboard</a>'
    links += f'<a href="{base}diagnostics">Diagnostics</a>'
    hide = (
        "<script>if (!/\\/eda\\/(report\\.html)?$/.test(location.pathname)) "
        "{ document.getElementById('app-links').hidden = true; }</script>"
    )
    return f'<span class="app-links" id="app-links" data-testid="app-links">{links}</span>{hide}'


def _alerts(parts: ReportParts) -> str:
    if not parts.alerts:
        return "<p>No alerts.</p>"
    rows = [
        [
            f'<span class="badge {a.severity}">{a.severity}</span>',
            escape(a.kind),
            escape(a.column or "—"),
            escape(a.message),
        ]
        for a in parts.alerts
    ]
    return _table(["Severity", "Kind", "Column", "Message"], rows, "alerts")


def _column_cards(parts: ReportParts) -> str:
    cards = []
    for name, stats in parts.summary["column_stats"].items():
        facts = [[escape(LABELS.get(k, k)), escape(_fmt(k, v))] for k, v in stats.items() if k != "kind"]
        role = " · target" if name == parts.target else ""
        path = parts.column_plots.get(name)
        figure = (
            f"<figure>{_img(parts, path, f'distribution of {name}')}"
            f'<figcaption><a href="{escape(path)}">{escape(path)}</a></figcaption></figure>'
            if path
            else '<p class="note">plot left out (column or time limit of the analysis)</p>'
        )
        cards.append(
            f'<div class="card"><h3>{escape(name)} <span class="kind">{escape(stats["kind"])}{role}</span></h3>'
            f'<div class="row">{_table(None, facts, "facts small")}{figure}</div></div>'
        )
    return "".join(cards)


def _fmt(key: str, value: Any) -> str:
    if key.endswith("_pct"):
        return f"{value:.1f}%"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _related(parts: ReportParts, figure: _FigureWriter) -> str:
    note = (
        f"<p>Features ranked by {escape(parts.measure)} with the target, on binned values (0 = unrelated, "
        f"1 = determined); the plots below show the target against the top ones.</p>"
    )
    return note + "".join(figure(f) for f in parts.figures.get("related", []))


def _missing(parts: ReportParts, figure: _FigureWriter) -> str:
    if not parts.summary["missing_cells"]:
        return "<p>No missing values.</p>"
    rows = [[escape(pattern), f"{count:,}"] for pattern, count in parts.missing_patterns]
    body = "".join(figure(f) for f in parts.figures.get("missing", []))
    if "missing" in parts.extra_plots:
        body += f"<figure>{_img(parts, parts.extra_plots['missing'], 'missing-value matrix')}</figure>"
    return body + "<h3>Most common patterns (columns missing together)</h3>" + _table(["Missing columns", "Rows"], rows)


def _section(key: str, body: str) -> str:
    return f'<section id="{key}"><h2>{escape(SECTIONS[key])}</h2>{body}</section>'


def render_report(parts: ReportParts) -> str:
    """The whole report as one HTML string; plotly.js is inlined once in the head, so it works offline."""
    figure = _FigureWriter()
    correlations = "".join(figure(f) for f in parts.figures.get("correlations", []))
    if "correlations" in parts.extra_plots:
        path = escape(parts.extra_plots["correlations"])
        correlations += f'<p class="note">A static copy of the numeric heatmap: <a href="{path}">{path}</a>.</p>'
    bodies = {
        "leakage": _leakage(parts),
        "overview": _overview(parts),
        "cleaning": _cleaning(parts),
        "alerts": _alerts(parts),
        "target": "".join(figure(f) for f in parts.figures.get("target", [])),
        "related": _related(parts, figure),
        "correlations": correlations or "<p>Fewer than two numeric columns.</p>",
        "missing": _missing(parts, figure),
        "columns": _column_cards(parts),
    }
    toc = "".join(f'<a href="#{k}">{escape(v)}</a>' for k, v in SECTIONS.items())
    warnings = sum(a.severity == "warning" for a in parts.alerts)
    lede = (
        f"{parts.summary['rows']:,} rows × {parts.summary['columns']:,} columns · target "
        f"<code>{escape(parts.target)}</code> ({escape(parts.task)}) · {len(parts.leakage)} leakage suspect(s) · "
        f"{warnings} warning(s)"
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(parts.title)} — exploratory analysis</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f'<nav class="toc">{_app_links(parts.app_link)}{toc}</nav>'
        f'<main><header><h1>{escape(parts.title)}</h1><p class="lede">{lede}</p></header>'
        + "".join(_section(key, bodies[key]) for key in SECTIONS)
        + "</main></body></html>"
    )
