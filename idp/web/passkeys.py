"""Passkey pages: the person's list at /account/passkeys (add, rename, delete) and signing in with one from the
login page. Parse, call (idp/authn/passkeys.py, the engine's `passkey` method), render.

The browser half is idp/web/static/passkeys.js: it asks for options with a POST (storing a challenge changes
state), runs `navigator.credentials.create()` / `.get()`, and posts the answer in an ordinary form, so success and
errors are ordinary pages and redirects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from idp.authn import passkey, passkeys
from idp.authn.engine import Engine
from idp.oauth.models import LoginSession
from idp.oauth.provider import Provider
from idp.records import people
from idp.web.account_common import SignedIn, SignedInForm, beijing, current_login, page
from idp.web.browser import browser_id, check_csrf
from idp.web.deps import get_engine, get_provider
from idp.web.i18n import messages, pick_language
from idp.web.login import _login_page
from idp.web.steps import respond

router = APIRouter(tags=["passkeys"])
ProviderDep = Annotated[Provider, Depends(get_provider)]
EngineDep = Annotated[Engine, Depends(get_engine)]
Csrf = Annotated[str, Form(max_length=128)]
# A PublicKeyCredential as JSON: attestation objects of the formats we accept stay well under this.
Credential = Annotated[str, Form()]  # bounded by the form body limit
Name = Annotated[str, Form(max_length=200)]
NOTICES = {"added": "passkey_added", "renamed": "passkey_renamed", "deleted": "passkey_deleted"}


def _when(value: datetime | None) -> str:
    return beijing(value) if value else ""


def _view(
    request: Request, provider: Provider, login: LoginSession, status: int = 200, error: str | None = None
) -> Response:
    t = messages(pick_language(request))
    with provider.runtime.reading() as session:
        items = passkeys.listed(session, provider.runtime.protector, login.person_id)
    rows = [{"id": i.id, "name": i.name, "created": _when(i.created_at), "used": _when(i.last_used_at)} for i in items]
    notice = t.get(NOTICES.get(request.query_params.get("done", ""), ""), None)
    context: dict[str, object] = {
        "items": rows,
        "error": error,
        "notice": notice,
        "full": len(rows) >= passkeys.MAX_PASSKEYS,
    }
    return page(request, provider, "passkeys.html", context, status)


@router.get("/account/passkeys")
async def passkeys_page(request: Request, provider: ProviderDep, login: SignedIn) -> Response:
    return await run_in_threadpool(_view, request, provider, login)


@router.post("/account/passkeys/options")
async def registration_options(request: Request, provider: ProviderDep, csrf: Csrf = "") -> Response:
    """Creation options for the signed-in person, the challenge bound to this browser and SSO session."""

    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "account", "-")
        login, browser = current_login(request, provider), browser_id(request)
        if login is None or browser is None:
            return JSONResponse({"error": "please_sign_in"}, 401)
        protector = provider.runtime.protector
        with provider.runtime.transaction() as session:
            label = people.view(session, protector, people.get(session, login.person_id)).phone or "Yiwang"
            options = passkeys.registration_options(
                session, protector, passkeys.RelyingParty.of(provider.settings.issuer), login.person_id, label,
                browser, login.sid,
            )  # fmt: skip
        return options_json(options)

    return await run_in_threadpool(work)


@router.post("/account/passkeys/register")
async def register(
    request: Request, provider: ProviderDep, login: SignedInForm, name: Name = "", credential: Credential = ""
) -> Response:
    def work() -> Response:
        t = messages(pick_language(request))
        clean = passkeys.clean_name(name) or t["passkey_default_name"]
        protector = provider.runtime.protector
        rp = passkeys.RelyingParty.of(provider.settings.issuer)
        failed: passkeys.PasskeyRefused | None = None
        with provider.runtime.transaction() as session:
            try:
                passkeys.register(
                    session, protector, rp, login.person_id, browser_id(request), login.sid, clean, credential
                )
            except passkeys.PasskeyRefused as refused:
                refused.person_id = login.person_id
                passkeys.audit_refusal(session, "passkey.register", refused, channel="web")
                failed = refused
        if failed is not None:
            key = "passkey_too_many" if failed.reason == "too_many" else "passkey_register_failed"
            return _view(request, provider, login, 400, t[key])
        return RedirectResponse("/account/passkeys?done=added", 303)

    return await run_in_threadpool(work)


@router.post("/account/passkeys/{passkey_id}/rename")
async def rename(
    request: Request, provider: ProviderDep, passkey_id: str, login: SignedInForm, name: Name = ""
) -> Response:
    def work() -> Response:
        clean = passkeys.clean_name(name)
        if clean is None:
            return _view(request, provider, login, 400, messages(pick_language(request))["passkey_name_invalid"])
        with provider.runtime.transaction() as session:
            found = passkeys.rename(session, provider.runtime.protector, login.person_id, passkey_id[:36], clean)
        if not found:
            return _view(request, provider, login, 404, messages(pick_language(request))["passkey_not_found"])
        return RedirectResponse("/account/passkeys?done=renamed", 303)

    return await run_in_threadpool(work)


@router.post("/account/passkeys/{passkey_id}/delete")
async def delete(request: Request, provider: ProviderDep, passkey_id: str, login: SignedInForm) -> Response:
    def work() -> Response:
        with provider.runtime.transaction() as session:
            found = passkeys.remove(session, login.person_id, passkey_id[:36])
        if not found:
            return _view(request, provider, login, 404, messages(pick_language(request))["passkey_not_found"])
        return RedirectResponse("/account/passkeys?done=deleted", 303)

    return await run_in_threadpool(work)


# --- signing in -----------------------------------------------------------------------------------------------
@router.post("/login/passkey/options")
async def sign_in_options(
    request: Request, engine: EngineDep, flow: Annotated[str, Form()] = "", csrf: Csrf = ""
) -> Response:
    check_csrf(engine.protector, request, csrf, "login", flow)
    options = await run_in_threadpool(passkey.options, engine, flow, browser_id(request))
    if not isinstance(options, dict):
        return JSONResponse({"error": options.message}, options.status)
    return options_json(options)


@router.post("/login/passkey")
async def sign_in(
    request: Request, engine: EngineDep, flow: Annotated[str, Form()] = "", csrf: Csrf = "", credential: Credential = ""
) -> Response:
    check_csrf(engine.protector, request, csrf, "login", flow)
    result = await run_in_threadpool(passkey.submit, engine, flow, browser_id(request), credential)
    return respond(request, result, lambda shown: _login_page(request, engine, flow, shown))


def options_json(options: dict[str, Any]) -> Response:
    """A ceremony's options: JSON for the page's script, never kept by a cache (the challenge is single use)."""
    response = JSONResponse(options)
    response.headers["Cache-Control"] = "no-store"
    return response
