"""A bare HTML page for the emulators' browser steps, loudly marked as a sandbox."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

__all__ = ["page", "escape"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
    ".banner{background:#ffd400;color:#000;font-weight:700;padding:.5rem 1rem;margin-bottom:1rem}"
    "button{font-size:1rem;margin:.25rem;padding:.4rem 1rem}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.2rem .6rem}"
)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><div class=banner>SANDBOX — emulated provider, not real</div>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
