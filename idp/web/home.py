"""The landing page: what this is, whether it runs in sandbox mode, and whether it is ready."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from idp.authn.engine import Engine
from idp.errors import NotReady
from idp.runtime import check_database
from idp.web import kiosk
from idp.web.deps import get_engine, get_runtime
from idp.web.pages import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    try:
        runtime = get_runtime(request)
        await run_in_threadpool(check_database, runtime.engine)
        ready = True
    except NotReady:
        ready = False
    return render(request, "home.html", {"ready": ready})


@router.get("/terms", response_class=HTMLResponse)
async def terms(request: Request, engine: Annotated[Engine, Depends(get_engine)], flow: str = "") -> HTMLResponse:
    """The user agreement and privacy notice in force (its version is what a registration records). Opened from
    a shared screen's sign-in (`flow`), it is drawn in the kiosk frame with the way back to that sign-in."""
    frame = await run_in_threadpool(kiosk.for_flow_id, engine, request, flow) if flow else None
    context = {"version": engine.settings.terms_version, "kiosk": frame, "flow": flow if frame else ""}
    response = render(request, "terms.html", context)
    kiosk.private(response, frame)
    return response
