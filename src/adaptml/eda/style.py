"""The report's stylesheet: system fonts only, one readable column, a sticky contents bar."""

from __future__ import annotations

__all__ = ["CSS"]

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --accent: #3b6ea8; --bad: #b42318; --good: #1e7b4b; }
* { box-sizing: border-box; }
html { scroll-padding-top: 56px; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
nav.toc { position: sticky; top: 0; z-index: 10; display: flex; flex-wrap: wrap; gap: 4px 18px;
  padding: 10px 24px; background: rgba(255,255,255,.96); border-bottom: 1px solid var(--line); }
nav.toc a { color: var(--accent); text-decoration: none; font-size: 14px; white-space: nowrap; }
nav.toc a:hover { text-decoration: underline; }
main { max-width: 1000px; margin: 0 auto; padding: 8px 24px 64px; }
h1 { font-size: 28px; margin: 20px 0 4px; }
h2 { font-size: 21px; margin: 40px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 8px; }
.lede { color: var(--muted); margin: 0 0 8px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px;
  background: #f3f4f6; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: #f5f7fa; font-weight: 600; }
tbody tr:nth-child(even) { background: #fafbfc; }
table.facts td:first-child { color: var(--muted); width: 38%; }
table.small { font-size: 13px; width: auto; min-width: 240px; }
table.small td { padding: 3px 8px; }
.box { padding: 14px 18px; border-radius: 6px; margin: 12px 0; }
.box.danger { border: 2px solid var(--bad); background: #fef3f2; }
.box.ok { border: 1px solid #a6d8bc; background: #f0faf4; }
.box table.leak { background: #fff; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.warning { background: #fdecc8; color: #8a4b00; }
.badge.info { background: #e1ecf7; color: #1f4f82; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 4px 16px 12px; margin: 14px 0; }
.card .row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.kind { font-weight: 400; font-size: 13px; color: var(--muted); margin-left: 6px; }
figure { margin: 8px 0; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 12px; color: var(--muted); }
figcaption a { color: var(--muted); }
.figure { margin: 8px 0 20px; }
.note { font-size: 13px; color: var(--muted); }
.app-links { display: inline-flex; flex-wrap: wrap; gap: 4px 18px; padding-right: 18px; margin-right: 2px;
  border-right: 1px solid var(--line); }
.app-links[hidden] { display: none; }
nav.toc .app-links a { font-weight: 600; }
table.cleaning td:first-child { font-weight: 600; white-space: nowrap; }
"""
