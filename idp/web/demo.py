"""A demo relying party at /demo (sandbox only), written as any department would: with Authlib's OAuth
client, discovery, PKCE, state and nonce, talking to this provider over real HTTP."""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import APIRouter, Depends, Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from idp.errors import InvalidInput
from idp.masking import mask_text
from idp.oauth.provider import Provider
from idp.web.deps import get_provider
from idp.web.pages import render

router = APIRouter(prefix="/demo", tags=["demo"])
ProviderDep = Annotated[Provider, Depends(get_provider)]
CLIENT_ID = "yiwang-demo"
SCOPE = "openid profile phone real_name org"
TX_COOKIE, HINT_COOKIE = "demo_tx", "demo_idt"


def _ensure_client(provider: Provider) -> None:
    issuer = provider.settings.issuer
    provider.ensure_own_client(
        CLIENT_ID,
        name="一网演示应用 Yiwang demo",
        redirect_uris=[f"{issuer}/demo/callback"],
        post_logout_redirect_uris=[f"{issuer}/demo"],
        auth_method="none",
        scopes=SCOPE.split(),
        grant_types=["authorization_code"],
        actor="sandbox",
    )


def _sign(provider: Provider, payload: dict[str, str]) -> str:
    text = json.dumps(payload, sort_keys=True)
    return f"{provider.runtime.protector.index('demo', text)}.{text}"


def _unsign(provider: Provider, value: str | None) -> dict[str, str]:
    mac, _, text = (value or "").partition(".")
    if not text or not secrets.compare_digest(mac, provider.runtime.protector.index("demo", text)):
        raise InvalidInput("演示登录已过期，请从 /demo 重新开始。The demo sign-in has expired; start again at /demo.")
    data: dict[str, str] = json.loads(text)
    return data


def _oauth_client(provider: Provider) -> AsyncOAuth2Client:
    issuer = provider.settings.issuer
    return AsyncOAuth2Client(
        client_id=CLIENT_ID,
        scope=SCOPE,
        redirect_uri=f"{issuer}/demo/callback",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
        timeout=10,
    )


@router.get("")
async def demo_home(request: Request) -> Response:
    return render(request, "demo.html", {"claims": None})


@router.post("/login")
async def demo_login(provider: ProviderDep) -> Response:
    """A button (POST), not a link: starting a sign-in may register the demo client, and no GET changes state."""
    await run_in_threadpool(_ensure_client, provider)
    state, nonce, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    async with _oauth_client(provider) as client:
        url, _ = client.create_authorization_url(
            f"{provider.settings.issuer}/authorize", state=state, code_verifier=verifier, nonce=nonce
        )
    response = RedirectResponse(url, 303)
    tx = _sign(provider, {"state": state, "nonce": nonce, "verifier": verifier})
    response.set_cookie(TX_COOKIE, tx, httponly=True, samesite="lax", max_age=600, path="/demo")
    return response


async def _verify_id_token(provider: Provider, id_token: str, nonce: str) -> dict[str, Any]:
    issuer = provider.settings.issuer
    async with httpx.AsyncClient(timeout=10) as http:
        keys = KeySet.import_key_set((await http.get(f"{issuer}/jwks")).json())
    try:
        token = jwt.decode(id_token, keys, algorithms=["ES256", "RS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": CLIENT_ID},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
        ).validate(token.claims)
    except JoseError as exc:
        raise InvalidInput(f"the ID token did not validate: {exc.error}") from None
    return dict(token.claims)


@router.get("/callback")
async def demo_callback(request: Request, provider: ProviderDep) -> Response:
    tx = _unsign(provider, request.cookies.get(TX_COOKIE))
    params = request.query_params
    if params.get("state") != tx["state"] or params.get("iss") != provider.settings.issuer:
        raise InvalidInput(
            "state 或 iss 不匹配。State or issuer mismatch: this response was not meant for this sign-in."
        )
    if "error" in params:
        return render(
            request, "demo.html", {"claims": None, "error": params.get("error_description") or params["error"]}
        )
    issuer = provider.settings.issuer
    async with _oauth_client(provider) as client:
        token = await client.fetch_token(f"{issuer}/token", code=params.get("code", ""), code_verifier=tx["verifier"])
        id_claims = await _verify_id_token(provider, token["id_token"], tx["nonce"])
        info = (await client.get(f"{issuer}/userinfo")).json()
    shown = {k: mask_text(str(v)) for k, v in {**id_claims, **info}.items()}
    response = render(request, "demo.html", {"claims": shown})
    response.delete_cookie(TX_COOKIE, path="/demo")
    response.set_cookie(HINT_COOKIE, token["id_token"], httponly=True, samesite="lax", max_age=3600, path="/demo")
    return response


@router.get("/logout")
async def demo_logout(request: Request, provider: ProviderDep) -> Response:
    issuer = provider.settings.issuer
    hint = request.cookies.get(HINT_COOKIE, "")
    query = httpx.QueryParams(
        {"id_token_hint": hint, "post_logout_redirect_uri": f"{issuer}/demo", "client_id": CLIENT_ID}
    )
    response = RedirectResponse(f"{issuer}/logout?{query}", 302)
    response.delete_cookie(HINT_COOKIE, path="/demo")
    return response
