"""The device approval pages (RFC 8628 §3.3) at /device: the user code, then the engine's journey (sign-in,
step-up), then "allow this kiosk?". Parse, call the engine, render; GETs only show.

`verification_uri_complete` (/device?user_code=…) fills the code in and asks to continue: a link someone else
made must never approve anything by being opened (§5.4, remote phishing).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp.authn import device, journey
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Refused, Shown
from idp.oauth import acr, scopes, sessions
from idp.web.browser import browser_id, check_csrf, client_address, csrf_token, ensure_browser, set_browser
from idp.web.deps import get_engine
from idp.web.i18n import pick_language
from idp.web.pages import render
from idp.web.steps import describe, respond

router = APIRouter(prefix="/device", tags=["device"])
EngineDep = Annotated[Engine, Depends(get_engine)]
Field = Annotated[str, Form()]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _private(response: Response) -> Response:
    """Nothing of these pages stays in a cache or comes back with the back button."""
    response.headers.update(NO_STORE)
    return response


def _entry_page(request: Request, engine: Engine, typed: str, shown: Invalid | None = None) -> Response:
    browser = ensure_browser(request)
    context: dict[str, Any] = {
        "user_code": typed[:32],
        "csrf": csrf_token(engine.protector, "device", "", browser),
        "error": describe(shown, pick_language(request)) if shown else None,
    }
    response = render(request, "device_entry.html", context, status_code=shown.status if shown else 200)
    return _private(set_browser(request, response, engine.settings.issuer.startswith("https")))


@router.get("")
async def entry(request: Request, engine: EngineDep, user_code: str = "") -> Response:
    return _entry_page(request, engine, user_code)


@router.post("")
async def enter(request: Request, engine: EngineDep, user_code: Field = "", csrf: Field = "") -> Response:
    check_csrf(engine.protector, request, csrf, "device", "")
    browser = browser_id(request) or ""
    cookie = request.cookies.get(sessions.COOKIE)
    outcome = await run_in_threadpool(device.enter, engine, user_code, browser, cookie, client_address(request))

    def again(shown: Invalid | Shown) -> Response:
        return _entry_page(request, engine, user_code, shown if isinstance(shown, Invalid) else None)

    return _private(respond(request, outcome, again))


def _confirm_page(request: Request, engine: Engine, flow_id: str) -> Response:
    lang = pick_language(request)
    with engine.reading() as session:
        current = engine.journey(session, flow_id, browser_id(request))
        login = engine.login_of(session, request.cookies.get(sessions.COOKIE))
    client = engine.client_of(current)
    if not device.is_device(current) or client is None or login is None:
        return respond(request, Refused("please_sign_in" if login is None else "authorize_failed"))
    hall_id = getattr(client, "hall", None)
    hall = next((h.name for h in engine.settings.halls if h.id == hall_id), None) if hall_id else None
    context: dict[str, Any] = {
        "client_name": client.name,
        "hall": hall,
        "level": f"{acr.level(login.acr)} ({login.acr})",
        "items": scopes.describe(engine.requested(client, journey.request(current)), lang),
        "flow": current.id,
        "csrf": csrf_token(engine.protector, "device", current.id, request.cookies.get("yw_b", "")),
    }
    return render(request, "device_confirm.html", context)


@router.get("/confirm")
async def confirm_page(request: Request, engine: EngineDep, flow: str = "") -> Response:
    return _private(await run_in_threadpool(_confirm_page, request, engine, flow))


@router.post("/confirm")
async def confirm(
    request: Request, engine: EngineDep, flow: Field = "", csrf: Field = "", decision: Field = ""
) -> Response:
    check_csrf(engine.protector, request, csrf, "device", flow)
    cookie = request.cookies.get(sessions.COOKIE)
    approve = decision == "approve"
    outcome = await run_in_threadpool(device.answer, engine, flow, browser_id(request), cookie, approve)
    return _private(respond(request, outcome))


@router.get("/done")
async def done(request: Request, result: str = "") -> Response:
    approved = result == "approved"
    return _private(render(request, "device_done.html", {"approved": approved}))
