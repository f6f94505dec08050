"""One self-contained HTML page: plotly.js embedded once, styles inline, nothing fetched from the network.

The contents list names every figure drawn (links of class `figure-link` to the figure's
id) and every figure left out with its reason, so a reader, and the browser test, can
check the page against its own list.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import plotly.io as pio
from plotly.offline import get_plotlyjs

from analysis.report.blocks import FigureBlock, LeftOut, Section, TableBlock, TextBlock

PLOT_CONFIG = {"displaylogo": False, "responsive": True}
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 0 24px 48px; color: #1f2933; line-height: 1.45; }
h1 { margin: 28px 0 4px; font-size: 1.7em; } h2 { margin-top: 40px; border-bottom: 2px solid #d9e2ec; padding-bottom: 4px; }
h3 { margin: 22px 0 6px; font-size: 1.05em; color: #334e68; }
.meta { color: #627d98; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.86em; margin: 6px 0; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 4px 10px; text-align: right; white-space: nowrap; }
th { background: #f0f4f8; white-space: normal; max-width: 12em; vertical-align: bottom; }
td:first-child, th:first-child { text-align: left; }
table.wrap td:last-child { white-space: normal; text-align: left; font-family: ui-monospace, monospace; }
.caption { color: #52606d; font-size: 0.85em; margin: 2px 0 10px; }
.left-out { color: #8d2b0b; font-size: 0.9em; margin: 4px 0; }
nav ul { columns: 2; font-size: 0.9em; } nav li { break-inside: avoid; }
.figure { margin: 8px 0 18px; }
"""


def render_page(sections: Sequence[Section], *, root: Path) -> str:
    """The page for `sections`, found under `root`."""
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<h1>ASIB sweeps report</h1><p class='meta'>{html.escape(str(root))} · generated {generated}</p>",
        _contents(sections),
    ]
    for section in sections:
        body.append(f"<section id='{section.id}'><h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            body.append(_block(block))
        body.append("</section>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>ASIB sweeps report</title>"
        f"<style>{STYLE}</style><script type='text/javascript'>{get_plotlyjs()}</script></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def _contents(sections: Sequence[Section]) -> str:
    items = []
    for section in sections:
        links = [f"<a class='figure-link' href='#{f.id}'>{html.escape(f.title)}</a>" for f in section.figures()]
        left_out = [b for b in section.blocks if isinstance(b, LeftOut)]
        detail = ", ".join(links)
        if left_out:
            detail += (" · " if links else "") + f"<span class='left-out'>{len(left_out)} left out</span>"
        items.append(
            f"<li><a href='#{section.id}'>{html.escape(section.title)}</a>{': ' + detail if detail else ''}</li>"
        )
    return f"<nav><h3>Contents</h3><ul>{''.join(items)}</ul></nav>"


def _block(block: object) -> str:
    if isinstance(block, TableBlock):
        table = block.frame.to_html(index=False, na_rep="—", border=0, classes="wrap" if block.wrap else None)
        caption = f"<p class='caption'>{html.escape(block.caption)}</p>" if block.caption else ""
        return f"<h3>{html.escape(block.title)}</h3>{table}{caption}"
    if isinstance(block, FigureBlock):
        div = figure_div(block)
        caption = f"<p class='caption'>{html.escape(block.caption)}</p>" if block.caption else ""
        return f"<div class='figure'><h3>{html.escape(block.title)}</h3>{div}{caption}</div>"
    if isinstance(block, TextBlock):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, LeftOut):
        return f"<p class='left-out'>Left out: {html.escape(block.what)} — {html.escape(block.reason)}</p>"
    raise TypeError(f"unknown block {block!r}")


def figure_div(block: FigureBlock) -> str:
    """The figure as a div that draws itself with the page's plotly.js (none embedded here, no MathJax)."""
    return pio.to_html(
        block.figure,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=block.id,
        config=PLOT_CONFIG,
    )
