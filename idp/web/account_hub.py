"""The account centre's front door: the overview (masked profile, level and how to raise it), signing in to it,
and the sign-in history.

Signing in: the account centre is a first-party client of this provider (`yiwang-account`, public, registered on
the first POST). "Sign in" sends the browser through our own `/authorize`, so the authentication engine runs
the journey — including a step-up to the level asked for — and leaves its SSO session cookie, which is all the
account pages read. The callback therefore redeems nothing: it only brings the person back to `/account`.
"""

from __future__ import annotations

import secrets
from typing import Annotated

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from idp.account import history
from idp.oauth import acr
from idp.oauth.provider import Provider
from idp.records import people
from idp.web.account_common import SignedIn, beijing, current_login, page, signed_out
from idp.web.account_text import account_messages
from idp.web.deps import get_provider
from idp.web.i18n import pick_language

router = APIRouter(prefix="/account", tags=["account"])
ProviderDep = Annotated[Provider, Depends(get_provider)]
CLIENT_ID = "yiwang-account"


def _redirect_uri(provider: Provider) -> str:
    return f"{provider.settings.issuer}/account/callback"


def _ensure_client(provider: Provider) -> None:
    provider.ensure_own_client(
        CLIENT_ID,
        name="一网账号中心 Yiwang account centre",
        redirect_uris=[_redirect_uri(provider)],
        auth_method="none",
        scopes=["openid"],
        grant_types=["authorization_code"],
        subject_type="public",
        actor="account",
    )


def _authorize(provider: Provider, level: int) -> Response:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": _redirect_uri(provider),
        "scope": "openid",
        "state": secrets.token_urlsafe(16),
        # PKCE is required of public clients; the code is never redeemed (see the module's docstring).
        "code_challenge": create_s256_code_challenge(secrets.token_urlsafe(48)),
        "code_challenge_method": "S256",
    }
    if level > 1:
        params["acr_values"] = acr.acr_for(level)
    return RedirectResponse(f"/authorize?{httpx.QueryParams(params)}", 303)


@router.get("/signin")
async def signin_link(request: Request, provider: ProviderDep) -> Response:
    """The header's "sign in" link: straight to the sign-in pages once the account client exists; before that,
    the page with a button (registering the client is a change, and no GET changes state)."""
    if provider.clients.get(CLIENT_ID) is None:
        return signed_out(request, 200)
    return _authorize(provider, 1)


@router.post("/signin")
async def signin(provider: ProviderDep, level: Annotated[str, Form(max_length=1)] = "1") -> Response:
    await run_in_threadpool(_ensure_client, provider)
    return _authorize(provider, int(level) if level in ("1", "2", "3") else 1)


@router.get("/callback")
async def callback() -> Response:
    """Back from the sign-in pages (signed in, stepped up, or declined): the overview says which."""
    return RedirectResponse("/account", 303)


@router.get("")
async def overview(request: Request, provider: ProviderDep) -> Response:
    def work() -> Response:
        login = current_login(request, provider)
        if login is None:
            return signed_out(request, 200)
        with provider.runtime.transaction() as session:
            person = people.get(session, login.person_id)
            shown = people.view(session, provider.runtime.protector, person)
        t = account_messages(pick_language(request))
        context = {
            "person": shown,
            "since": beijing(shown.created_at),
            "session_level": t[f"level_{acr.level(login.acr) or 1}"],
        }
        return page(request, provider, "account_home.html", context)

    return await run_in_threadpool(work)


def describe(t: dict[str, str], entry: history.Entry) -> dict[str, str]:
    return {
        "when": beijing(entry.at),
        "what": t.get(f"act_{entry.action}", entry.action),
        "channel": t.get(f"channel_{entry.channel}", entry.channel),
        "methods": "、".join(t.get(f"amr_{m}", m) for m in entry.methods),
        "level": t[f"level_{acr.level(entry.acr)}"] if acr.level(entry.acr) else "",
        "app": entry.client or "",
        "network": entry.network or "",
    }


@router.get("/history")
async def history_page(request: Request, provider: ProviderDep, login: SignedIn) -> Response:
    def work() -> Response:
        with provider.runtime.transaction() as session:
            entries = history.sign_ins(session, login.person_id)
        t = account_messages(pick_language(request))
        items = [describe(t, e) for e in entries]
        for item, entry in zip(items, entries, strict=True):
            client = provider.clients.get(entry.client) if entry.client else None
            item["app"] = client.name if client is not None else item["app"]
        return page(request, provider, "account_history.html", {"items": items})

    return await run_in_threadpool(work)
