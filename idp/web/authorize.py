"""The authorization endpoint and the consent step (OIDC Core §3.1.2).

One decision function runs on every arrival — first request, return from login, return from consent —
so prompt, max_age, acr and consent are always judged the same way against the stored request.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from idp import audit
from idp.errors import InvalidInput
from idp.oauth import acr, consent, flows, scopes, sessions
from idp.oauth.clients import Client
from idp.oauth.models import AuthFlow, LoginSession
from idp.oauth.provider import OAuthRequest, OAuthResponse, Provider
from idp.web.browser import check_csrf, csrf_token, ensure_browser, set_browser
from idp.web.deps import get_provider
from idp.web.i18n import pick_language
from idp.web.pages import render

router = APIRouter(tags=["authorize"])
ProviderDep = Annotated[Provider, Depends(get_provider)]

FRESH_SID = "_fresh_sid"
STEPUP_DECLINED = "_stepup_declined"
CONSENTED = "_consented"


def _add_params(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def redirect_to_client(provider: Provider, redirect_uri: str, params: dict[str, str]) -> RedirectResponse:
    """Every authorization response, success or error, names us as `iss` (RFC 9207 §2)."""
    return RedirectResponse(_add_params(redirect_uri, {**params, "iss": provider.settings.issuer}), 302)


def error_redirect(provider: Provider, req: dict[str, str], error: str, description: str) -> RedirectResponse:
    params = {"error": error, "error_description": description}
    if req.get("state"):
        params["state"] = req["state"]
    return redirect_to_client(provider, req["redirect_uri"], params)


def error_page(request: Request, detail: str, status: int = 400) -> Response:
    return render(request, "error.html", {"detail": detail}, status_code=status)


def _oauth_request(provider: Provider, query: list[tuple[str, str]]) -> OAuthRequest:
    return OAuthRequest("GET", f"{provider.settings.issuer}/authorize", {}, query, [])


def _needs_login(login: LoginSession | None, req: dict[str, str], flow: AuthFlow | None) -> bool:
    if login is None:
        return True
    fresh = flow is not None and flow.params.get(FRESH_SID) == login.sid
    if fresh:
        return False  # this very flow just authenticated; its level is judged separately
    if "login" in req.get("prompt", "").split():
        return True
    max_age = req.get("max_age")
    return max_age is not None and time.time() - login.auth_time > int(max_age)


def decide(request: Request, provider: Provider, query: list[tuple[str, str]], flow: AuthFlow | None) -> Response:
    """Judge an authorization request: error, login, consent, or a code for the client."""
    req = {k: v for k, v in reversed(query)}  # first value wins, as in Authlib's checks
    client: Client | None = provider.clients.get(req.get("client_id"))
    if client is None:
        return error_page(request, "这个应用没有在本平台登记。The application is not registered here.")
    redirect_uri = req.get("redirect_uri", "")
    if not client.check_redirect_uri(redirect_uri):
        # Never redirect to an address we can't vouch for (RFC 6749 §4.1.2.1).
        return error_page(request, "回调地址与登记的不一致。The redirect_uri is not registered for this application.")
    if req.get("max_age") is not None and not req["max_age"].isdigit():
        return error_redirect(provider, req, "invalid_request", "max_age must be a non-negative integer")
    runtime = provider.runtime
    with runtime.transaction() as session:
        login = sessions.load(session, request.cookies.get(sessions.COOKIE))
        user = sessions.as_user(login) if login else None
    oauth_req = _oauth_request(provider, query)
    try:
        grant = provider.server.get_consent_grant(oauth_req, end_user=user)
    except OAuth2Error as exc:
        return error_redirect(provider, req, exc.error, exc.description or exc.error)
    prompts = set(req.get("prompt", "").split())
    demanded = acr.demanded(req.get("acr_values"), client.default_acr)
    if _needs_login(login, req, flow):
        if "none" in prompts:
            return error_redirect(provider, req, "login_required", "the person must sign in")
        return _to_step(request, provider, query, client, flow, "/login")
    assert login is not None and user is not None
    if acr.level(login.acr) < demanded:
        # Step up to exactly the level asked for; never hand out a weaker token in its place.
        if "none" in prompts:
            return error_redirect(provider, req, "interaction_required", f"{acr.acr_for(demanded)} needs the person")
        if flow is not None and flow.params.get(STEPUP_DECLINED) == login.sid:
            return error_redirect(
                provider,
                req,
                "unmet_authentication_requirements",
                f"{acr.acr_for(demanded)} is required; this sign-in reached {login.acr}",
            )
        return _to_step(request, provider, query, client, flow, "/stepup")
    requested = [s for s in scopes.parse(client.get_allowed_scope(req.get("scope", "")))]
    with runtime.transaction() as session:
        missing = consent.missing(session, login.person_id, client.client_id, requested)
    consented_now = flow is not None and flow.params.get(CONSENTED) == login.sid
    if (missing or "consent" in prompts) and not consented_now:
        if "none" in prompts:
            return error_redirect(provider, req, "consent_required", "the person must consent")
        return _to_step(request, provider, query, client, flow, "/consent")
    result: OAuthResponse = provider.server.create_authorization_response(oauth_req, grant_user=user, grant=grant)
    location = dict(result.headers).get("Location")
    if result.status != 302 or not location:
        return error_page(request, "授权失败。The authorization could not be completed.")
    with runtime.transaction() as session:
        sessions.remember_client(session, login.sid, client.client_id)
        if flow is not None:
            flows.finish(session, session.merge(flow))
        audit.record(
            session,
            audit.Event(
                action="oauth.authorize",
                subject=login.person_id,
                actor=login.person_id,
                channel="web",
                client=client.client_id,
                detail={"scope": req.get("scope", ""), "acr": login.acr},
            ),
        )
    return RedirectResponse(_add_params(location, {"iss": provider.settings.issuer}), 302)


def _to_step(
    request: Request, provider: Provider, query: list[tuple[str, str]], client: Client, flow: AuthFlow | None, step: str
) -> Response:
    if flow is None:
        browser = ensure_browser(request)
        with provider.runtime.transaction() as session:
            flow = flows.start(session, dict(reversed(query)), client.client_id, browser, provider.settings.flow_ttl)
    response = RedirectResponse(f"{step}?flow={flow.id}", 303)
    return set_browser(request, response, provider.settings.issuer.startswith("https"))


def _query_of(flow: AuthFlow) -> list[tuple[str, str]]:
    return list(flows.request_params(flow).items())


def load_flow(request: Request, provider: Provider, flow_id: str | None) -> AuthFlow:
    with provider.runtime.transaction() as session:
        flow = flows.get(session, flow_id, request.cookies.get("yw_b"))
        session.expunge(flow)
        return flow


@router.get("/authorize")
async def authorize(request: Request, provider: ProviderDep) -> Response:
    return await run_in_threadpool(decide, request, provider, list(request.query_params.multi_items()), None)


@router.get("/authorize/resume")
async def resume(request: Request, provider: ProviderDep, flow: str = "") -> Response:
    def work() -> Response:
        current = load_flow(request, provider, flow)
        return decide(request, provider, _query_of(current), current)

    return await run_in_threadpool(work)


def _current_login(request: Request, provider: Provider) -> LoginSession:
    with provider.runtime.transaction() as session:
        login = sessions.load(session, request.cookies.get(sessions.COOKIE))
        if login is None:
            raise InvalidInput("请先登录。Please sign in first.")
        session.expunge(login)
        return login


@router.get("/consent")
async def consent_page(request: Request, provider: ProviderDep, flow: str = "") -> Response:
    def work() -> Response:
        current = load_flow(request, provider, flow)
        login = _current_login(request, provider)
        client = provider.clients.get(current.client_id)
        if client is None:
            raise InvalidInput("该应用已不再登记。The application is no longer registered.")
        req = flows.request_params(current)
        requested = scopes.parse(client.get_allowed_scope(req.get("scope", "")))
        context: dict[str, Any] = {
            "client_name": client.name,
            "items": scopes.describe(requested, pick_language(request)),
            "flow": current.id,
            "csrf": csrf_token(provider.runtime.protector, "consent", current.id, request.cookies.get("yw_b", "")),
            "sid": login.sid,
        }
        return render(request, "consent.html", context)

    return await run_in_threadpool(work)


@router.post("/consent")
async def consent_submit(
    request: Request,
    provider: ProviderDep,
    flow: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    decision: Annotated[str, Form()],
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "consent", flow)
        current = load_flow(request, provider, flow)
        login = _current_login(request, provider)
        req = flows.request_params(current)
        if decision != "approve":
            with provider.runtime.transaction() as session:
                flows.finish(session, session.merge(current))
            return error_redirect(provider, req, "access_denied", "the person declined")
        client = provider.clients.get(current.client_id)
        if client is None:
            raise InvalidInput("该应用已不再登记。The application is no longer registered.")
        requested = scopes.parse(client.get_allowed_scope(req.get("scope", "")))
        with provider.runtime.transaction() as session:
            consent.grant(session, login.person_id, client.client_id, requested)
            row = session.merge(current)
            row.params = {**row.params, CONSENTED: login.sid}
        return RedirectResponse(f"/authorize/resume?flow={current.id}", 303)

    return await run_in_threadpool(work)
