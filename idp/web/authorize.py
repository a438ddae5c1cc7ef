"""The authorization endpoint (OIDC Core §3.1.2: GET and POST) and the consent page: parse, ask the engine,
render. The decision itself is `idp.authn`'s."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp.authn import journey
from idp.authn.engine import Engine
from idp.authn.outcome import Refused
from idp.oauth import scopes, sessions
from idp.web import kiosk
from idp.web.browser import browser_id, check_csrf, csrf_token, ensure_browser, set_browser
from idp.web.deps import get_engine
from idp.web.i18n import pick_language
from idp.web.pages import render
from idp.web.steps import respond

router = APIRouter(tags=["authorize"])
EngineDep = Annotated[Engine, Depends(get_engine)]
MAX_PARAMS, MAX_VALUE = 50, 4096


def error_page(request: Request, detail: str, status: int = 400) -> Response:
    return render(request, "error.html", {"detail": detail}, status_code=status)


async def _authorize(request: Request, engine: Engine, params: list[tuple[str, str]]) -> Response:
    if len(params) > MAX_PARAMS or any(len(v) > MAX_VALUE for _, v in params):
        return respond(request, Refused("authorize_failed"))
    browser = ensure_browser(request)
    cookie = request.cookies.get(sessions.COOKIE)
    outcome = await run_in_threadpool(engine.authorize, params, cookie, browser)
    response = set_browser(request, respond(request, outcome), engine.settings.issuer.startswith("https"))
    lang = language_of(dict(reversed(params)).get("ui_locales", ""))
    if lang is not None:
        # OIDC Core §3.1.2.1: the client's ui_locales choose the language of the pages that follow.
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def language_of(ui_locales: str) -> str | None:
    """The first of the space-separated BCP47 tags we have pages in (compared case-insensitively), if any."""
    for tag in ui_locales.lower().split():
        if tag.startswith("zh"):
            return "zh-CN"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return None


@router.get("/authorize")
async def authorize(request: Request, engine: EngineDep) -> Response:
    return await _authorize(request, engine, list(request.query_params.multi_items()))


@router.post("/authorize")
async def authorize_post(request: Request, engine: EngineDep) -> Response:
    """OIDC Core §3.1.2.1: the authorization endpoint MUST support POST (form serialisation)."""
    form = await request.form(max_files=0, max_fields=MAX_PARAMS)
    return await _authorize(request, engine, [(k, v) for k, v in form.multi_items() if isinstance(v, str)])


@router.get("/authorize/resume")
async def resume(request: Request, engine: EngineDep, flow: str = "") -> Response:
    """Where a step that leaves the site (a provider's page) comes back to; judging changes nothing new."""
    cookie = request.cookies.get(sessions.COOKIE)
    outcome = await run_in_threadpool(engine.resume, flow, cookie, browser_id(request))
    return respond(request, outcome)


@router.get("/consent")
async def consent_page(request: Request, engine: EngineDep, flow: str = "") -> Response:
    def work() -> Response:
        with engine.reading() as session:
            current = engine.journey(session, flow, browser_id(request))
            login = engine.login_of(session, request.cookies.get(sessions.COOKIE))
        client = engine.client_of(current)
        if login is None or client is None:
            return respond(request, Refused("please_sign_in" if login is None else "client_gone"))
        requested = engine.requested(client, journey.request(current))
        context: dict[str, Any] = {
            "client_name": client.name,
            "items": scopes.describe(requested, pick_language(request)),
            "flow": current.id,
            "csrf": csrf_token(engine.protector, "consent", current.id, request.cookies.get("yw_b", "")),
            "kiosk": kiosk.for_journey(engine, request, current),
        }
        return kiosk.private(render(request, "consent.html", context), context["kiosk"])

    return await run_in_threadpool(work)


@router.post("/consent")
async def consent_submit(
    request: Request,
    engine: EngineDep,
    flow: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=128)],
    decision: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    check_csrf(engine.protector, request, csrf, "consent", flow)
    cookie = request.cookies.get(sessions.COOKIE)
    frame = await run_in_threadpool(kiosk.for_flow_id, engine, request, flow)  # before the journey ends
    outcome = await run_in_threadpool(engine.consent, flow, browser_id(request), cookie, decision == "approve")
    return respond(request, outcome, kiosk=lambda: frame)
