"""Bar charts as inline SVG, drawn on the server: no script, no charting library, readable without colour.

Each chart is an `<svg role="img">` with `<title>` and `<desc>` (named by `aria-labelledby`), and each bar has
its own `<title>` with its label and value; the page shows the same numbers as a table beside it, so a screen
reader or a copy into a spreadsheet gets the figures, not a picture of them. The SVG scales to its container
(`viewBox`, width 100%), so a phone never scrolls sideways.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 480, 220
LEFT, BOTTOM, TOP = 40, 30, 12
FONT = 16  # in viewBox units: about 11 px on a phone, 24 px at the widest (svg.chart max-width)
_ids = itertools.count(1)


def _text(value: str) -> Markup:
    """Escaped, without control characters (not allowed in XML, so an SVG with one would not parse)."""
    return escape("".join(c for c in value if unicodedata.category(c) != "Cc"))


def _nice_top(peak: int) -> int:
    """The axis maximum: the smallest of 1, 2, 5, 10, 20, 50... at or above the highest bar."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= peak:
                return step * scale
        scale *= 10


def bar_chart(title: str, desc: str, bars: Sequence[tuple[str, int]], *, label_every: int = 1,
              colour: str = "#c8102e") -> Markup:  # fmt: skip
    """A vertical bar chart of `bars` (label, value); every `label_every`-th label is written under its bar."""
    n = max(len(bars), 1)
    top = _nice_top(max((v for _, v in bars), default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / n
    uid = next(_ids)
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart{uid}-t chart{uid}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="chart{uid}-t">{_text(title)}</title>',
        f'<desc id="chart{uid}-d">{_text(desc)}</desc>',
    ]
    for tick in (0, top // 2, top) if top > 1 else (0, top):
        y = TOP + plot_h - plot_h * tick / top
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ccc" stroke-width="1"/>')
        out.append(
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="{FONT}" fill="#333">{tick}</text>'
        )
    for i, (label, value) in enumerate(bars):
        h = plot_h * value / top
        x = LEFT + i * slot + slot * 0.15
        y = TOP + plot_h - h
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{colour}" '
            f'data-label="{_text(label)}" data-value="{value}"><title>{_text(label)}: {value}</title></rect>'
        )
        if i % label_every == 0:
            cx = LEFT + i * slot + slot / 2
            out.append(
                f'<text x="{cx:.1f}" y="{HEIGHT - 10}" text-anchor="middle" font-size="{FONT}" fill="#333">'
                f"{_text(label)}</text>"
            )
    out.append("</svg>")
    return Markup("".join(out))


def hbar_chart(title: str, desc: str, bars: Sequence[tuple[str, int]], *, colour: str = "#1565c0") -> Markup:
    """Horizontal bars for categories (methods, levels): a label of any length sits on its own line above its bar."""
    top = _nice_top(max((v for _, v in bars), default=0))
    row = FONT * 3
    height = TOP + row * max(len(bars), 1)
    uid = next(_ids)
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="chart{uid}-t chart{uid}-d">',
        f'<title id="chart{uid}-t">{_text(title)}</title>',
        f'<desc id="chart{uid}-d">{_text(desc)}</desc>',
    ]
    for i, (label, value) in enumerate(bars):
        y = TOP + i * row
        w = (WIDTH - 80) * value / top
        out.append(f'<text x="0" y="{y + FONT:.1f}" font-size="{FONT}" fill="#333">{_text(label)}</text>')
        out.append(
            f'<rect x="0" y="{y + FONT + 4:.1f}" width="{w:.1f}" height="{FONT:.1f}" fill="{colour}" '
            f'data-label="{_text(label)}" data-value="{value}"><title>{_text(label)}: {value}</title></rect>'
        )
        out.append(f'<text x="{w + 6:.1f}" y="{y + 2 * FONT + 2:.1f}" font-size="{FONT}" fill="#333">{value}</text>')
    out.append("</svg>")
    return Markup("".join(out))
