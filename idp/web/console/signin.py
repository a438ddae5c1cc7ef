"""Console sign-in: the console is an OpenID Connect client of this very provider.

Like Keycloak's security-admin-console, the console does not sign anyone in by itself. "Sign in" (a POST)
sends the staff member to our own `/authorize` (authorization code + PKCE S256, `state`, `nonce`,
`prompt=login`, `acr_values=urn:yiwang:loa:2`): the authentication engine runs the sign-in as for any client,
asking the authenticator code (TOTP) after the SMS code of anyone who enrolled one. The callback redeems the code
at our own `/token` and checks the ID token against our `/jwks` — over HTTP, through the app's own ASGI stack
(`httpx.ASGITransport`), so no network path to the public issuer URL is needed — and then demands:
`acr` at least loa:2, a second factor in `amr` (`otp`, or a user-verified passkey's `pop` and `user`), and a
staff role held now. Only then is a console
session made, with its own short cookie (`__Host-` on https, HttpOnly, SameSite=Strict, idle and absolute
timeouts). The console client is public (`none`), registered with `subject_type=public` so `sub` is the person.
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Depends, Form, Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from idp import audit
from idp.authn import passkey, passkeys
from idp.db import utcnow
from idp.oauth import acr, totp
from idp.oauth.provider import Provider
from idp.records.models import Person
from idp.staff import console_sessions, roles
from idp.staff.models import ConsoleSession
from idp.web.browser import browser_id
from idp.web.console import guard
from idp.web.console.text import console_messages
from idp.web.deps import get_provider
from idp.web.i18n import pick_language
from idp.web.pages import render
from idp.web.passkeys import options_json

router = APIRouter(prefix="/console", tags=["console"])
ProviderDep = Annotated[Provider, Depends(get_provider)]
CLIENT_ID = "yiwang-console"
TX_COOKIE = "yw_console_tx"
TX_TTL = 600


def _redirect_uri(provider: Provider) -> str:
    return f"{provider.settings.issuer}/console/callback"


def _ensure_client(provider: Provider) -> None:
    provider.ensure_own_client(
        CLIENT_ID,
        name="一网工作人员控制台 Yiwang staff console",
        redirect_uris=[_redirect_uri(provider)],
        auth_method="none",
        scopes=["openid"],
        grant_types=["authorization_code"],
        subject_type="public",
        default_acr=acr.LOA2,
        actor="console",
    )


def _seal(provider: Provider, payload: dict[str, str]) -> str:
    text = json.dumps(payload, sort_keys=True)
    return f"{provider.runtime.protector.index('console-tx', text)}.{text}"


def _unseal(provider: Provider, value: str | None) -> dict[str, str] | None:
    mac, _, text = (value or "").partition(".")
    if not text or not secrets.compare_digest(mac, provider.runtime.protector.index("console-tx", text)):
        return None
    data: dict[str, str] = json.loads(text)
    return data


def _message(request: Request, title: str, body: str, status: int, **extra: Any) -> Response:
    t = console_messages(pick_language(request))
    response = render(request, "console_message.html", {"t": t, "staff": None, "title": title, "body": body, **extra},
                      status_code=status)  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("")
async def home(request: Request, staff: Annotated[guard.Staff, Depends(guard.current_staff)]) -> Response:
    """Signed in: the staff member's pages (signed out, the guard shows the sign-in page instead)."""
    return guard.page(request, staff, "console_home.html", {})


@router.post("/signin")
async def signin(request: Request, provider: ProviderDep) -> Response:
    """A button (POST): starting a sign-in may register the console client, and no GET changes state."""
    await run_in_threadpool(_ensure_client, provider)
    state, nonce, verifier = generate_token(24), generate_token(24), generate_token(48)
    query = httpx.QueryParams(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": _redirect_uri(provider),
            "scope": "openid",
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
            "acr_values": acr.LOA2,
            "prompt": "login",
        }
    )
    response = RedirectResponse(f"/authorize?{query}", 303)
    tx = _seal(provider, {"state": state, "nonce": nonce, "verifier": verifier})
    # Lax, not Strict: the callback arrives after the sign-in pages' redirects, and must carry it.
    response.set_cookie(
        TX_COOKIE, tx, httponly=True, secure=guard.https(request), samesite="lax", max_age=TX_TTL, path="/console"
    )
    return response


async def _redeem(request: Request, provider: Provider, code: str, tx: dict[str, str]) -> dict[str, Any] | str:
    """The ID token's claims after the code is redeemed at our /token, or why not."""
    issuer = provider.settings.issuer
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url=issuer, timeout=10) as http:
        answer = await http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": _redirect_uri(provider),
                "code_verifier": tx["verifier"],
                "client_id": CLIENT_ID,
            },
        )
        if answer.status_code != 200:
            return str(answer.json().get("error", "token_error"))
        keys = KeySet.import_key_set((await http.get("/jwks")).json())
    try:
        token = jwt.decode(answer.json()["id_token"], keys, algorithms=["ES256", "RS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": CLIENT_ID},
            nonce={"essential": True, "value": tx["nonce"]},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(token.claims)
    except (JoseError, KeyError, ValueError) as exc:
        return f"id_token: {getattr(exc, 'error', type(exc).__name__)}"
    return dict(token.claims)


@router.get("/callback")
async def callback(request: Request, provider: ProviderDep) -> Response:
    """The redirection endpoint (RFC 6749 §4.1.2): bound to this browser's sign-in by `state` (and PKCE)."""
    tx = _unseal(provider, request.cookies.get(TX_COOKIE))
    params = request.query_params
    if tx is None or not secrets.compare_digest(params.get("state", ""), tx["state"]):
        return _message(request, "console_signed_out_title", "console_signed_out", 400)
    if params.get("iss") != provider.settings.issuer:
        return _message(request, "error_title", "console_signed_out", 400)
    if "error" in params or not params.get("code"):
        t = console_messages(pick_language(request))
        text = t["console_failed"].format(reason=params.get("error", "no code"))
        return _message(request, "console_signin_title", "console_signed_out", 400, text=text)
    claims = await _redeem(request, provider, params["code"], tx)
    if isinstance(claims, str):
        t = console_messages(pick_language(request))
        return _message(request, "console_signin_title", "", 400, text=t["console_failed"].format(reason=claims))
    outcome = await run_in_threadpool(_open_session, provider, claims)
    if outcome == "not_staff":
        response = _message(request, "console_not_staff_title", "console_not_staff", 403)
    elif outcome == "need_totp":
        response = _message(request, "console_need_totp_title", "console_need_totp", 403, enrol=True)
    else:
        response = guard.set_cookie(
            request, RedirectResponse("/console", 303), console_sessions.stamp(provider.runtime.protector, outcome)
        )
    response.delete_cookie(TX_COOKIE, path="/console")
    return response


def _open_session(provider: Provider, claims: dict[str, Any]) -> str:
    """A new console session's cookie value, or `not_staff` / `need_totp` (and then nothing is kept)."""
    with provider.runtime.transaction() as session:
        person = session.get(Person, str(claims["sub"]))
        if person is None or not roles.held(session, person):
            return "not_staff"
        amr = claims.get("amr") or []
        # The second factor: the authenticator's code, or a user-verified passkey (idp/authn/passkey.py) — each
        # only while the person still has it.
        second = ("otp" in amr and totp.is_enrolled(session, person.id)) or (
            passkey.second_factor_in(amr) and passkeys.has_passkey(session, person.id)
        )
        if acr.level(str(claims.get("acr"))) < 2 or not second:
            return "need_totp"
        value, _ = console_sessions.create(
            session, person.id, str(claims.get("sid", "")), provider.settings.console_ttl_s
        )
        audit.record(
            session,
            audit.Event(
                action="console.sign_in",
                subject=person.id,
                actor=person.id,
                channel="console",
                client=CLIENT_ID,
                detail={"acr": claims.get("acr"), "amr": amr},
            ),
        )
        return value


@router.post("/signout")
async def signout(
    request: Request,
    provider: ProviderDep,
    staff: Annotated[guard.Staff, Depends(guard.guard(*roles.ROLES, post=True))],
) -> Response:
    def work() -> None:
        with provider.runtime.transaction() as session:
            row = session.get(ConsoleSession, staff.session_key)
            if row is not None and row.ended_at is None:
                row.ended_at = utcnow()
            audit.record(
                session,
                audit.Event(
                    action="console.sign_out", subject=staff.person_id, actor=staff.person_id, channel="console"
                ),
            )

    await run_in_threadpool(work)
    response = RedirectResponse("/console", 303)
    response.delete_cookie(console_sessions.cookie_name(guard.https(request)), path="/", secure=guard.https(request))
    return response


@router.post("/reauth")
async def reauth(
    request: Request,
    provider: ProviderDep,
    staff: Annotated[guard.Staff, Depends(guard.guard(*roles.ROLES, post=True))],
    code: Annotated[str, Form(max_length=64)] = "",
    back: Annotated[str, Form(max_length=200)] = "/console",
) -> Response:
    """The second factor asked again: a current authenticator code (or a recovery code) renews `factor_at`."""
    back = guard.local_back(back)

    def work() -> bool:
        # A refusal is returned, not raised: the failure it counted must commit.
        with provider.runtime.transaction() as session:
            refused = totp.verify_second_factor(
                session, provider.runtime.protector, staff.person_id, code, provider.settings.otp_max_attempts
            )
            if refused is not None:
                audit.record(
                    session,
                    audit.Event(action="console.reauth", subject=staff.person_id, actor=staff.person_id,
                                channel="console", outcome="refused", detail={"reason": refused.reason}),
                )  # fmt: skip
                return False
            row = session.get(ConsoleSession, staff.session_key, with_for_update=True)
            if row is not None:
                row.factor_at = utcnow()
            audit.record(
                session,
                audit.Event(action="console.reauth", subject=staff.person_id, actor=staff.person_id, channel="console"),
            )
            return True

    if not await run_in_threadpool(work):
        return guard.reauth_page(request, staff, back, "wrong_totp", 400)
    return guard.redirect(request, staff, f"{back}{'&' if '?' in back else '?'}reauth=done")


def _confirm_context(request: Request, staff: guard.Staff) -> tuple[passkeys.RelyingParty, str | None, str]:
    """What a passkey confirmation is bound to: this browser and this console session."""
    rp = passkeys.RelyingParty.of(request.app.state.settings.issuer)
    return rp, browser_id(request), f"console|{staff.session_key}"


@router.post("/reauth/passkey/options")
async def reauth_passkey_options(
    request: Request,
    provider: ProviderDep,
    staff: Annotated[guard.Staff, Depends(guard.guard(*roles.ROLES, post=True))],
) -> Response:
    """Request options for the staff member's own passkeys (a POST: it stores the challenge)."""
    rp, browser, scope = _confirm_context(request, staff)
    if browser is None:
        return JSONResponse({"error": "no_browser"}, 400)

    def work() -> dict[str, Any]:
        with provider.runtime.transaction() as session:
            return passkeys.authentication_options(
                session, provider.runtime.protector, rp, browser, scope, staff.person_id
            )

    return options_json(await run_in_threadpool(work))


@router.post("/reauth/passkey")
async def reauth_passkey(
    request: Request,
    provider: ProviderDep,
    staff: Annotated[guard.Staff, Depends(guard.guard(*roles.ROLES, post=True))],
    credential: Annotated[str, Form()] = "",
    back: Annotated[str, Form(max_length=200)] = "/console",
) -> Response:
    """The second factor asked again, answered with one of the staff member's own passkeys (user verified)."""
    back = guard.local_back(back)
    rp, browser, scope = _confirm_context(request, staff)

    def work() -> bool:
        # A refusal is returned, not raised: the consumed challenge and the audit must commit.
        with provider.runtime.transaction() as session:
            try:
                passkeys.authenticate(
                    session, provider.runtime.protector, rp, browser, scope, credential, staff.person_id
                )
            except passkeys.PasskeyRefused as refused:
                refused.person_id = staff.person_id
                passkeys.audit_refusal(session, "console.reauth", refused, channel="console")
                return False
            row = session.get(ConsoleSession, staff.session_key, with_for_update=True)
            if row is not None:
                row.factor_at = utcnow()
            audit.record(
                session,
                audit.Event(action="console.reauth", subject=staff.person_id, actor=staff.person_id,
                            channel="console", detail={"method": "passkey"}),
            )  # fmt: skip
            return True

    if not await run_in_threadpool(work):
        return await run_in_threadpool(guard.reauth_page, request, staff, back, "console_reauth_passkey_failed", 400)
    return guard.redirect(request, staff, f"{back}{'&' if '?' in back else '?'}reauth=done")
