"""QR codes drawn on the server as inline SVG (segno): no script, no image request, nothing sent elsewhere."""

from __future__ import annotations

import segno
from markupsafe import Markup


def svg(data: str, title: str) -> Markup:
    """`data` as an SVG QR code sized by CSS (a viewBox, no fixed size), dark on white with its quiet zone."""
    code = segno.make(data, error="m")
    # segno escapes the title and only encodes `data` into path geometry: the markup is safe to inline.
    return Markup(code.svg_inline(scale=1, omitsize=True, title=title, dark="#000", light="#fff"))
