"""Sign-in pages: phone and SMS code on one page, the TOTP step, and Alipay. Parse, call the engine, render.

Every field is optional at the HTTP layer so that a missing or over-long value comes back as a field error on
the same page (with what the person typed kept), never as a validation dump; the engine judges the values.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp.authn import alipay_login, journey, second_factor, sms
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Refused, Shown
from idp.oauth import scopes
from idp.web import kiosk
from idp.web.browser import browser_id, check_csrf, client_address, csrf_token
from idp.web.deps import get_engine
from idp.web.i18n import pick_language
from idp.web.pages import render
from idp.web.steps import describe, respond

router = APIRouter(tags=["login"])
EngineDep = Annotated[Engine, Depends(get_engine)]
# No max_length: an over-long value is a field error on the page (the engine judges it), not a validation dump;
# the body limit bounds what is read at all.
Field = Annotated[str, Form()]


def _login_page(
    request: Request,
    engine: Engine,
    flow_id: str,
    shown: Invalid | Shown | None = None,
    phone: str = "",
    code: str = "",
) -> Response:
    """The one sign-in page: phone, code (once sent), agreement, the scopes asked for, other ways in."""
    with engine.reading() as session:
        flow = engine.journey(session, flow_id, browser_id(request))
    facts = flow.params
    client = engine.client_of(flow)
    lang = pick_language(request)
    requested = engine.requested(client, journey.request(flow)) if client else []
    context: dict[str, Any] = {
        "flow": flow.id,
        "csrf": csrf_token(engine.protector, "login", flow.id, request.cookies.get("yw_b", "")),
        "client_name": client.name if client else "",
        "items": scopes.describe(requested, lang),
        "phone": phone,
        "code": "",
        "sent": bool(flow.otp_id),
        "masked": facts.get(journey.PHONE_MASKED, ""),
        "resend_in": sms.resend_in(facts) if flow.otp_id else 0,
        "pow_challenge": sms.proof_challenge(engine, flow, browser_id(request)),
        "pow_bits": engine.settings.sms_pow_bits,
        "alipay": engine.adapters.alipay is not None,
        "terms_version": engine.settings.terms_version,
        "error": None,
        "error_field": None,
        "locked": False,
        "notice": None,
    }
    context["kiosk"] = kiosk.for_journey(engine, request, flow)
    status = 200
    if isinstance(shown, Invalid):
        context.update(error=describe(shown, lang), error_field=shown.field, locked=bool(shown.params.get("locked")))
        if shown.field not in ("code", "phone") and code.isdigit() and len(code) == 6:
            context["code"] = code  # the code was fine (e.g. the agreement was not ticked): keep it
        status = shown.status
        if shown.params.get("locked"):
            context["sent"] = False
    elif isinstance(shown, Shown):
        if shown.facts.get("sent"):
            context.update(sent=True, resend_in=shown.facts["resend_in"], masked=shown.facts["masked"])
        if shown.facts.get("notice"):
            context["notice"] = describe(Invalid(shown.facts["notice"]), lang)
    return kiosk.private(render(request, "login.html", context, status_code=status), context["kiosk"])


@router.get("/login")
async def login_page(request: Request, engine: EngineDep, flow: str = "") -> Response:
    return await run_in_threadpool(_login_page, request, engine, flow)


@router.post("/login/sms")
async def send_code(
    request: Request, engine: EngineDep, flow: Field = "", csrf: Field = "", phone: Field = "", proof: Field = ""
) -> Response:
    """Send a code; `proof` is the page's proof of work (idp/authn/hashcash.py), empty without JavaScript."""
    check_csrf(engine.protector, request, csrf, "login", flow)
    result = await run_in_threadpool(sms.send, engine, flow, browser_id(request), phone, client_address(request), proof)
    return await run_in_threadpool(_login_page, request, engine, flow, result, phone)


@router.post("/login/code")
async def check_code(
    request: Request,
    engine: EngineDep,
    flow: Field = "",
    csrf: Field = "",
    phone: Field = "",
    code: Field = "",
    agree: Field = "",
    decision: Field = "",
) -> Response:
    check_csrf(engine.protector, request, csrf, "login", flow)
    if decision == "cancel":
        return respond(request, await run_in_threadpool(engine.cancel, flow, browser_id(request)))
    result = await run_in_threadpool(
        lambda: sms.submit(
            engine, flow, browser_id(request), phone, code, agreed=agree == "yes", approve_scopes=decision == "approve"
        )
    )
    return respond(request, result, lambda shown: _login_page(request, engine, flow, shown, phone, code))


def _totp_page(request: Request, engine: Engine, flow_id: str, shown: Invalid | Shown | None = None) -> Response:
    csrf = csrf_token(engine.protector, "login", flow_id, request.cookies.get("yw_b", ""))
    context: dict[str, Any] = {"flow": flow_id, "csrf": csrf, "error": None}
    context["kiosk"] = kiosk.for_flow_id(engine, request, flow_id)
    status = 200
    if isinstance(shown, Invalid):
        context["error"], status = describe(shown, pick_language(request)), shown.status
    return kiosk.private(render(request, "login_totp.html", context, status_code=status), context["kiosk"])


@router.get("/login/totp")
async def totp_page(request: Request, engine: EngineDep, flow: str = "") -> Response:
    if not await run_in_threadpool(second_factor.pending, engine, flow, browser_id(request)):
        frame = await run_in_threadpool(kiosk.for_flow_id, engine, request, flow)
        return respond(request, Refused("send_first"), kiosk=lambda: frame)
    return await run_in_threadpool(_totp_page, request, engine, flow)


@router.post("/login/totp")
async def check_totp(
    request: Request, engine: EngineDep, flow: Field = "", csrf: Field = "", code: Field = ""
) -> Response:
    check_csrf(engine.protector, request, csrf, "login", flow)
    frame = await run_in_threadpool(kiosk.for_flow_id, engine, request, flow)  # for an error page on the way
    result = await run_in_threadpool(second_factor.submit, engine, flow, browser_id(request), code)
    return respond(request, result, lambda shown: _totp_page(request, engine, flow, shown), lambda: frame)


@router.get("/login/alipay")
async def alipay_start(request: Request, engine: EngineDep, flow: str = "") -> Response:
    """Sign in with Alipay: the state names the journey and is keyed to this browser. Nothing is stored."""
    mac = csrf_token(engine.protector, "alipay", flow, request.cookies.get("yw_b", ""))
    outcome = await run_in_threadpool(alipay_login.start, engine, flow, browser_id(request), mac)
    return respond(request, outcome)


@router.get("/login/alipay/callback")
async def alipay_callback(request: Request, engine: EngineDep, auth_code: str = "", state: str = "") -> Response:
    """The provider's redirect back (an OAuth callback: like /authorize, it completes a sign-in)."""
    flow_id, _, mac = state.partition(".")
    check_csrf(engine.protector, request, mac, "alipay", flow_id)
    result = await run_in_threadpool(alipay_login.callback, engine, flow_id, browser_id(request), auth_code)
    return respond(request, result, lambda shown: _login_page(request, engine, flow_id, shown))
