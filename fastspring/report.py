"""``report.html``: every figure of a reproduction with its caption and key numbers."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Panel:
    """One figure of the report: its PNG (relative to the report), caption and numbers."""

    key: str
    title: str
    png: str
    caption: str
    numbers: dict = field(default_factory=dict)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.sub { color: #555; margin-top: 0; }
section { border-top: 1px solid #ddd; padding-top: 1em; margin-top: 1.5em; }
h2 { font-size: 1.2em; }
img { max-width: 100%; max-height: 460px; height: auto; border: 1px solid #eee; }
p.caption { color: #333; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f4f4f4; }
td.num { font-variant-numeric: tabular-nums; text-align: right; }
nav a { margin-right: 1em; }
"""


def _number(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_report(panels, path, *, title, subtitle=""):
    """Write ``panels`` as one self-describing HTML page; returns the path."""
    path = Path(path)
    nav = " ".join(f'<a href="#{p.key}">{html.escape(p.title)}</a>' for p in panels)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="sub">{html.escape(subtitle)}</p>' if subtitle else "",
        f"<nav>{nav}</nav>",
    ]
    for p in panels:
        rows = "".join(
            f"<tr><th>{html.escape(str(name))}</th>"
            f"<td class='num'>{html.escape(_number(value))}</td></tr>"
            for name, value in p.numbers.items()
        )
        parts += [
            f'<section id="{p.key}"><h2>{html.escape(p.title)}</h2>',
            f'<img src="{html.escape(p.png)}" alt="{html.escape(p.title)}">',
            f'<p class="caption">{html.escape(p.caption)}</p>',
            f"<table>{rows}</table>" if rows else "",
            "</section>",
        ]
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
