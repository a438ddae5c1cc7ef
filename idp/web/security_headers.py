"""Headers on every response that keep our pages out of frames and browsers from guessing.

Consent, logout, account and signature-confirmation pages must never be framed (clickjacking): CSP
`frame-ancestors 'none'` for current browsers and `X-Frame-Options: DENY` for old ones. `nosniff` stops a
JSON or uploaded body from being run as script; `no-referrer` keeps codes, flows and tokens in our URLs from
leaking to other sites; HSTS only when the issuer is https (it would lock a plain-http deployment out).
A response that sets its own Content-Security-Policy keeps it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": CSP,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        if https:
            self.headers["Strict-Transport-Security"] = HSTS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
