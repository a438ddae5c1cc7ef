"""CIBA over HTTP: the backchannel authentication endpoint (machine-facing) and the citizen's approval page.

Parse, call `idp.oauth.ciba` / `idp.authn.ciba`, render. The SMS and the ping leave after the response (a
background task): the answer to the agent's app looks and takes the same whether an SMS went out or not, and
the citizen's click never waits for the client's notification endpoint.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from adapters.errors import AdapterError
from idp.authn import ciba as approval
from idp.authn.engine import Engine
from idp.authn.outcome import Refused
from idp.logs import get_logger
from idp.oauth import ciba
from idp.oauth.provider import OAuthResponse, Provider
from idp.oauth.sessions import COOKIE
from idp.web.browser import browser_id, check_csrf, csrf_token, ensure_browser, set_browser
from idp.web.deps import get_engine, get_provider
from idp.web.oauth_api import NO_STORE, oauth_request, to_response
from idp.web.pages import render
from idp.web.steps import respond

router = APIRouter(tags=["ciba"])
EngineDep = Annotated[Engine, Depends(get_engine)]
ProviderDep = Annotated[Provider, Depends(get_provider)]
log = get_logger("idp.web.ciba")


async def _send_link(provider: Provider, delivery: ciba.Delivery) -> None:
    try:
        await provider.sms.send_link(delivery.phone, delivery.link)
    except AdapterError as exc:
        # The request stands; the agent can ask again. The gateway's own audit hook has the details.
        log.warning("ciba.sms_failed", error=type(exc).__name__)


@router.post("/bc-authorize")
async def backchannel_authentication(request: Request, provider: ProviderDep) -> Response:
    """CIBA Core §7: POST only, form-encoded, the client authenticated as at the token endpoint."""
    prepared = await oauth_request(request)
    if isinstance(prepared, OAuthResponse):
        return to_response(prepared, NO_STORE)
    result, delivery = await run_in_threadpool(provider.ciba.authenticate, prepared)
    response = to_response(result, NO_STORE)
    if delivery is not None:
        response.background = BackgroundTask(_send_link, provider, delivery)
    return response


def _page(request: Request, engine: Engine, link: str, view: approval.View, status: int = 200) -> Response:
    browser = ensure_browser(request)
    context: dict[str, Any] = {
        "view": view,
        "link": link,
        "csrf": csrf_token(engine.protector, "ciba", view.link_hash, browser) if view.link_hash else "",
    }
    page = render(request, "ciba.html", context, status_code=status)
    page.headers["Cache-Control"] = "no-store"
    page.headers["Referrer-Policy"] = "no-referrer"  # the link is the request's only key
    return set_browser(request, page, engine.settings.issuer.startswith("https"))


@router.get("/ciba/{link}")
async def approval_page(request: Request, engine: EngineDep, link: str) -> Response:
    view = await run_in_threadpool(approval.view, engine, link, request.cookies.get(COOKIE))
    return _page(request, engine, link, view, 404 if view.state == approval.GONE else 200)


@router.post("/ciba/{link}/sign-in")
async def sign_in(
    request: Request, engine: EngineDep, link: str, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    check_csrf(engine.protector, request, csrf, "ciba", ciba.digest(link))
    browser = browser_id(request)
    if browser is None:
        return respond(request, Refused("ciba_gone"))
    return respond(request, await run_in_threadpool(approval.sign_in, engine, link, browser))


@router.post("/ciba/{link}/decide")
async def decide(
    request: Request,
    engine: EngineDep,
    link: str,
    csrf: Annotated[str, Form(max_length=128)] = "",
    decision: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    check_csrf(engine.protector, request, csrf, "ciba", ciba.digest(link))
    if decision not in ("approve", "deny"):
        return RedirectResponse(f"/ciba/{link}", 303)
    cookie = request.cookies.get(COOKIE)
    view, target = await run_in_threadpool(approval.decide, engine, link, cookie, decision == "approve")
    page = _page(request, engine, link, view, 404 if view.state == approval.GONE else 200)
    if target is not None:
        page.background = BackgroundTask(ciba.ping, target)
    return page
