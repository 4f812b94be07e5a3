"""Self-contained HTML reports: a small Markdown subset, with Plotly figures, offline.

Model summaries, model cards and the later stages' reports are Markdown that people
read as text too; this renders it. Hand-written rather than a Markdown library because
the subset is five constructs and the page must carry no external reference.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any


def html_page(markdown: str, title: str, figures: Mapping[str, Any] | None = None) -> str:
    """Return a self-contained HTML page: the Markdown, then the Plotly figures under titles.

    Plotly's script is inlined once, with the first figure, so the page works offline.
    """
    body: list[str] = []
    in_table = False
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-"):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        level = len(line) - len(line.lstrip("#"))
        if 1 <= level <= 4 and line[level : level + 1] == " ":
            body.append(f"<h{level}>{_inline(line[level + 1 :])}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<p class='item'>• {_inline(line[2:])}</p>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    if in_table:
        body.append("</table>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#1a1a1a}"
        "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
        "th{background:#f1f3f5}code{background:#f1f3f5;padding:0 .2rem}em{color:#8a4b00}"
    )
    if figures:
        body.append("<h2>Figures</h2>")
        for i, (name, figure) in enumerate(figures.items()):
            body.append(f"<h3>{html.escape(name)}</h3>")
            body.append(
                figure.to_html(
                    full_html=False, include_plotlyjs=i == 0, config={"displaylogo": False}
                )
            )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )


def _inline(text: str) -> str:
    escaped = html.escape(text)
    out, code, em, strong = [], False, False, False
    i = 0
    while i < len(escaped):
        if escaped.startswith("**", i):
            out.append("</strong>" if strong else "<strong>")
            strong = not strong
            i += 2
            continue
        ch = escaped[i]
        if ch == "`":
            out.append("</code>" if code else "<code>")
            code = not code
        elif ch == "_" and not code and (em or i == 0 or escaped[i - 1] == " "):
            out.append("</em>" if em else "<em>")
            em = not em
        else:
            out.append(ch)
        i += 1
    return "".join(out)
