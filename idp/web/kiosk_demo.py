"""A sandbox kiosk at /demo/kiosk: the screen of a self-service terminal in a service hall, written as a kiosk
vendor would, talking to this provider over real HTTP as a shared-device client.

Two ways in: "scan to sign in" (RFC 8628: a QR code and a user code, the citizen approves on their phone, the
kiosk polls) and "sign in here" (the authorization code flow on the kiosk's own screen, with the number pad).
Either way the screen shows who is signed in (masked), and "finish" — or the idle countdown — clears it.
The kiosk keeps its transaction in a signed, short-lived cookie and nothing else.
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Depends, Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from idp.errors import InvalidInput
from idp.masking import mask
from idp.oauth.clients import DEVICE_CODE
from idp.oauth.provider import Provider
from idp.web import kiosk
from idp.web.deps import get_provider
from idp.web.pages import render
from idp.web.qr import svg

router = APIRouter(prefix="/demo/kiosk", tags=["demo"])
ProviderDep = Annotated[Provider, Depends(get_provider)]
CLIENT_ID = "yiwang-kiosk-demo"
SCOPE = "openid profile phone"
ACR = "urn:yiwang:loa:2"
TX_COOKIE, PATH = "kiosk_tx", "/demo/kiosk"


def _ensure_client(provider: Provider) -> None:
    issuer = provider.settings.issuer
    provider.ensure_own_client(
        CLIENT_ID,
        name="东区政务服务大厅 自助终端 3 号 (演示 demo)",
        redirect_uris=[f"{issuer}{PATH}/callback"],
        auth_method="none",
        scopes=SCOPE.split(),
        grant_types=[DEVICE_CODE, "authorization_code"],
        shared_device=True,
        actor="sandbox",
    )


def _sign(provider: Provider, payload: dict[str, str]) -> str:
    text = json.dumps(payload, sort_keys=True)
    return f"{provider.runtime.protector.index('kiosk-demo', text)}.{text}"


def _unsign(provider: Provider, value: str | None) -> dict[str, str] | None:
    mac, _, text = (value or "").partition(".")
    if not text or not secrets.compare_digest(mac, provider.runtime.protector.index("kiosk-demo", text)):
        return None
    data: dict[str, str] = json.loads(text)
    return data


def _screen(request: Request, provider: Provider, name: str, context: dict[str, Any]) -> Response:
    frame = kiosk.frame(provider.settings, f"{PATH}/finish", {})
    response = render(request, name, {"kiosk": frame, **context})
    return kiosk.private(response)


@router.get("")
async def home(request: Request, provider: ProviderDep) -> Response:
    return _screen(request, provider, "kiosk_home.html", {})


@router.post("/device")
async def start_device(request: Request, provider: ProviderDep) -> Response:
    """Scan to sign in: ask for a device code (§3.1) and show the QR code and the user code."""
    await run_in_threadpool(_ensure_client, provider)
    issuer = provider.settings.issuer
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(
            f"{issuer}/device_authorization", data={"client_id": CLIENT_ID, "scope": SCOPE, "acr_values": ACR}
        )
    if answer.status_code != 200:
        raise InvalidInput(f"the device authorization was refused: {answer.json().get('error')}")
    grant = answer.json()
    context = {
        "qr": svg(grant["verification_uri_complete"], "QR"),
        "user_code": grant["user_code"],
        "verification_uri": grant["verification_uri"],
        "interval": grant["interval"],
    }
    response = _screen(request, provider, "kiosk_device.html", context)
    tx = _sign(provider, {"device_code": grant["device_code"]})
    response.set_cookie(TX_COOKIE, tx, httponly=True, samesite="strict", max_age=grant["expires_in"], path=PATH)
    return response


@router.post("/poll")
async def poll(request: Request, provider: ProviderDep) -> Response:
    """One poll of the token endpoint (§3.4) on the kiosk's behalf; the screen learns only the outcome and a
    masked name."""
    tx = _unsign(provider, request.cookies.get(TX_COOKIE))
    if tx is None:
        return JSONResponse({"status": "expired_token"}, headers=kiosk.NO_STORE)
    issuer = provider.settings.issuer
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(
            f"{issuer}/token",
            data={"grant_type": DEVICE_CODE, "device_code": tx["device_code"], "client_id": CLIENT_ID},
        )
        body = answer.json()
        if answer.status_code != 200:
            return JSONResponse({"status": body.get("error", "error")}, headers=kiosk.NO_STORE)
        name = await _who(provider, http, body)
    response = JSONResponse({"status": "done", "name": name}, headers=kiosk.NO_STORE)
    response.delete_cookie(TX_COOKIE, path=PATH)
    return response


async def _who(provider: Provider, http: httpx.AsyncClient, token: dict[str, Any]) -> str:
    """The signed-in person as the screen may show them: a masked name, else a masked phone number."""
    issuer = provider.settings.issuer
    keys = KeySet.import_key_set((await http.get(f"{issuer}/jwks")).json())
    try:
        claims = jwt.decode(token["id_token"], keys, algorithms=["ES256", "RS256"]).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": CLIENT_ID},
            exp={"essential": True},
        ).validate(claims)
    except (JoseError, KeyError) as exc:
        raise InvalidInput(f"the ID token did not validate: {exc}") from None
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    info = (await http.get(f"{issuer}/userinfo", headers=headers)).json()
    if info.get("sub") != claims["sub"]:
        raise InvalidInput("userinfo is about someone else")
    if info.get("nickname"):
        return str(info["nickname"])  # already masked by the provider (张*)
    return mask(str(info.get("phone_number", "")).removeprefix("+86"), "phone") or "—"


@router.post("/here")
async def start_here(provider: ProviderDep) -> Response:
    """Sign in on the kiosk's own screen: the authorization code flow with PKCE, in shared-device mode (at the
    client's registered level: a step-up on a kiosk would be the face step, which this demo leaves out)."""
    await run_in_threadpool(_ensure_client, provider)
    issuer = provider.settings.issuer
    state, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    query = httpx.QueryParams(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": f"{issuer}{PATH}/callback",
            "scope": SCOPE,
            "state": state,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
            "prompt": "login",
        }
    )
    response = RedirectResponse(f"{issuer}/authorize?{query}", 303)
    tx = _sign(provider, {"state": state, "verifier": verifier})
    response.set_cookie(TX_COOKIE, tx, httponly=True, samesite="lax", max_age=600, path=PATH)
    return kiosk.private(response)


@router.get("/callback")
async def callback(request: Request, provider: ProviderDep) -> Response:
    """The authorization response (an OAuth callback: like /authorize, it completes a sign-in)."""
    tx = _unsign(provider, request.cookies.get(TX_COOKIE))
    params = request.query_params
    issuer = provider.settings.issuer
    if tx is None or params.get("state") != tx.get("state") or params.get("iss") != issuer:
        return RedirectResponse(PATH, 303)
    if "error" in params:  # cancelled, or the screen timed out: back to the start, nothing shown
        response: Response = RedirectResponse(PATH, 303)
    else:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(
                f"{issuer}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": params.get("code", ""),
                    "redirect_uri": f"{issuer}{PATH}/callback",
                    "code_verifier": tx["verifier"],
                    "client_id": CLIENT_ID,
                },
            )
            if answer.status_code != 200:
                raise InvalidInput(f"the code exchange was refused: {answer.json().get('error')}")
            name = await _who(provider, http, answer.json())
        response = _screen(request, provider, "kiosk_done.html", {"name": name})
    response.delete_cookie(TX_COOKIE, path=PATH)
    return kiosk.private(response)


@router.post("/finish")
async def finish() -> Response:
    """ "Finish": forget the transaction and go back to the welcome screen (the kiosk keeps no tokens)."""
    response = RedirectResponse(f"{PATH}?cleared=1", 303)
    response.delete_cookie(TX_COOKIE, path=PATH)
    return kiosk.private(response)
