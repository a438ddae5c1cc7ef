"""Headers on every response that keep our pages out of frames and browsers from guessing.

Consent, logout, account and signature-confirmation pages must never be framed (clickjacking): CSP
`frame-ancestors 'none'` for current browsers and `X-Frame-Options: DENY` for old ones. `nosniff` stops a
JSON or uploaded body from being run as script; `no-referrer` keeps codes, flows and tokens in our URLs from
leaking to other sites; HSTS only when the issuer is https (it would lock a plain-http deployment out).
A response that sets its own Content-Security-Policy keeps it. One exception by design: the document a citizen
is asked to sign is shown inside our own confirmation page, so that response may be framed by our own origin
(and only by it).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
SAME_ORIGIN_CSP = "frame-ancestors 'self'; base-uri 'none'"
_FRAMED_BY_US = ("/signing/v1/confirm/", "/document")  # prefix, suffix of the document under signature
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

        chosen = self.headers
        path: str = scope["path"]
        if path.startswith(_FRAMED_BY_US[0]) and path.endswith(_FRAMED_BY_US[1]):
            chosen = {**self.headers, "Content-Security-Policy": SAME_ORIGIN_CSP, "X-Frame-Options": "SAMEORIGIN"}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in chosen.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
