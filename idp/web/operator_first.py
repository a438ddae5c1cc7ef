"""The operator API checks its bearer token before anything reads the request body.

FastAPI parses a route's body before it solves the route's dependencies, so `get_operator` alone would let
anyone make the service read and parse a JSON body. This middleware authenticates `/admin/v1/` requests
first and keeps the result for `get_operator`, which then does not ask the database again.
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from idp import operators
from idp.db import read_only
from idp.errors import YiwangError

PREFIX = "/admin/v1/"
STATE_KEY = "operator"


def authenticate(request: Request) -> str:
    from idp.web.deps import get_runtime  # deps imports the provider; keep this module light to import

    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    runtime = get_runtime(request)
    with read_only(runtime.engine) as conn, Session(bind=conn) as session:
        return operators.authenticate(session, token.strip() if scheme.lower() == "bearer" else None)


class OperatorFirst:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            operator = await run_in_threadpool(authenticate, request)
        except YiwangError as exc:
            from idp.web import problems

            await problems.respond(request, exc)(scope, receive, send)
            return
        scope.setdefault("state", {})[STATE_KEY] = operator
        await self.app(scope, receive, send)
