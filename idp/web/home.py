"""The landing page: what this is, whether it runs in sandbox mode, and whether it is ready."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from idp.errors import NotReady
from idp.runtime import check_database
from idp.web.deps import get_runtime
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
async def terms(request: Request) -> HTMLResponse:
    """The user agreement and privacy notice in force (its version is what a registration records)."""
    return render(request, "terms.html", {"version": request.app.state.settings.terms_version})
