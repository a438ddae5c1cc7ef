"""Every request gets an id (in each log line, the `X-Request-Id` response header, and calls to providers)
and its latency counted under its route template (`/authorize`, not `/authorize?client_id=...`); the network it
came from (masked, `idp.place`) is at hand for what it records.

An incoming `X-Request-Id` is kept when it looks like one (a balancer or gateway that set it can then follow
the request through us); anything else is replaced, so a header can't inject text into our logs.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.correlation import HEADER, REQUEST_ID
from idp import metrics, place

_ACCEPTABLE = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _ACCEPTABLE.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        mark = REQUEST_ID.set(request_id)
        # scope["client"] is the address the trusted proxies vouch for (uvicorn's proxy headers resolved it).
        network = place.CLIENT_NETWORK.set(place.masked_network((scope.get("client") or ("",))[0]))
        try:
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(mark)
            place.CLIENT_NETWORK.reset(network)
            metrics.REQUESTS.labels(scope["method"], _template(scope), str(status)).observe(
                time.perf_counter() - started
            )


def _template(scope: Scope) -> str:
    """The route's path template; a plain route FastAPI matched without naming it (`/token`) has no
    parameters, so its path is its template. Paths that matched nothing are one label, not one each."""
    template = getattr(scope.get("route"), "path", None)
    if template:
        return str(template)
    return str(scope["path"]) if scope.get("endpoint") is not None else "unmatched"
