"""Signing in by mobile phone and SMS code (and TOTP when the person enrolled it).

A first login with a new phone registers a person at loa:1. Codes, attempts and limits: see
`idp.oauth.otp` and `idp.oauth.ratelimit`. Phones travel only in form bodies and are shown masked.
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import from_thread
from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from adapters.errors import AdapterError
from idp import audit
from idp.errors import InvalidInput
from idp.identity import InvalidIdentifier, normalize_mobile
from idp.masking import mask
from idp.oauth import acr, flows, otp, sessions, totp
from idp.oauth.models import AuthFlow
from idp.oauth.provider import Provider
from idp.oauth.ratelimit import allowed
from idp.proofing import service
from idp.records import people
from idp.records.models import Person
from idp.web.authorize import FRESH_SID, load_flow
from idp.web.browser import check_csrf, csrf_token
from idp.web.deps import get_provider
from idp.web.i18n import messages, pick_language
from idp.web.pages import render

router = APIRouter(tags=["login"])
ALIPAY_PENDING = "_alipay_pending"
ProviderDep = Annotated[Provider, Depends(get_provider)]
AMR = "_amr"


def _page(request: Request, provider: Provider, name: str, flow: AuthFlow, status: int = 200, **extra: Any) -> Response:
    csrf = csrf_token(provider.runtime.protector, "login", flow.id, request.cookies.get("yw_b", ""))
    return render(request, name, {"flow": flow.id, "csrf": csrf, **extra}, status_code=status)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login")
async def login_page(request: Request, provider: ProviderDep, flow: str = "") -> Response:
    def work() -> Response:
        current = load_flow(request, provider, flow)
        client = provider.clients.get(current.client_id)
        return _page(
            request,
            provider,
            "login.html",
            current,
            client_name=client.name if client else "",
            alipay=provider.adapters.alipay is not None,
        )

    return await run_in_threadpool(work)


@router.post("/login/sms")
async def send_code(
    request: Request,
    provider: ProviderDep,
    flow: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=128)],
    phone: Annotated[str, Form(max_length=32)],
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "login", flow)
        current = load_flow(request, provider, flow)
        t = messages(pick_language(request))
        client = provider.clients.get(current.client_id)
        again = {"client_name": client.name if client else ""}
        try:
            e164 = normalize_mobile(phone)
        except InvalidIdentifier:
            return _page(request, provider, "login.html", current, 400, error=t["bad_phone"], **again)
        s = provider.settings
        counters = provider.counters
        phone_key = provider.runtime.protector.index("phone", e164)
        if not (
            allowed(counters, f"sms:ip:{_client_ip(request)}", s.sms_per_ip_per_10min, 600)
            and allowed(counters, f"sms:phone:{phone_key}:m", s.sms_per_phone_per_minute, 60)
            and allowed(counters, f"sms:phone:{phone_key}:d", s.sms_per_phone_per_day, 86400)
        ):
            return _page(request, provider, "login.html", current, 429, error=t["too_many_sms"], **again)
        with provider.runtime.transaction() as session:
            try:
                issued = otp.issue(session, provider.runtime.protector, e164, s.otp_ttl)
            except otp.OtpRefused as refused:
                return _page(request, provider, "login.html", current, 429, error=_locked(t, refused), **again)
            row = session.merge(current)
            row.otp_id = issued.challenge_id
            row.params = {**row.params, "_phone_masked": mask(e164, "phone")}
        # Sent after the challenge is stored, so a code can never arrive for a challenge that isn't there.
        try:
            from_thread.run(provider.sms.send_code, e164, issued.code)
        except AdapterError:
            return _page(request, provider, "login.html", current, 503, error=t["sms_down"], **again)
        return RedirectResponse(f"/login/code?flow={current.id}", 303)

    return await run_in_threadpool(work)


def _locked(t: dict[str, str], refused: otp.OtpRefused) -> str:
    until = refused.locked_until.strftime("%H:%M UTC") if refused.locked_until else ""
    return t["locked"].format(until=until)


@router.get("/login/code")
async def code_page(request: Request, provider: ProviderDep, flow: str = "") -> Response:
    def work() -> Response:
        current = load_flow(request, provider, flow)
        if not current.otp_id:
            return RedirectResponse(f"/login?flow={current.id}", 303)
        return _page(request, provider, "login_code.html", current, phone=current.params.get("_phone_masked", ""))

    return await run_in_threadpool(work)


@router.post("/login/code")
async def check_code(
    request: Request,
    provider: ProviderDep,
    flow: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=128)],
    code: Annotated[str, Form(max_length=16)],
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "login", flow)
        current = load_flow(request, provider, flow)
        t = messages(pick_language(request))
        masked = current.params.get("_phone_masked", "")
        if not current.otp_id:
            return RedirectResponse(f"/login?flow={current.id}", 303)
        protector = provider.runtime.protector
        # Failures must be counted even though the login fails: commit them before answering.
        with provider.runtime.transaction() as session:
            try:
                phone = otp.verify(session, protector, current.otp_id, code.strip(), provider.settings.otp_max_attempts)
                refused = None
            except otp.OtpRefused as exc:
                phone, refused = None, exc
                audit.record(
                    session,
                    audit.Event(
                        action="login.sms",
                        subject=masked,
                        outcome="refused",
                        channel="web",
                        client=current.client_id,
                        detail={"reason": exc.reason},
                    ),
                )
        if refused is not None or phone is None:
            assert refused is not None
            if refused.reason == "locked":
                error = _locked(t, refused)
            elif refused.reason == "wrong_code":
                error = t["wrong_code"]
            else:
                error = t["code_expired"]
            return _page(request, provider, "login_code.html", current, 400, error=error, phone=masked)
        with provider.runtime.transaction() as session:
            person = people.find_by_phone(session, protector, phone)
            if person is None:
                person = people.register_by_phone(session, protector, phone, channel="web", client=current.client_id)
            elif not person.phone_verified:
                person.phone_verified = True
            pending_alipay = current.params.get(ALIPAY_PENDING)
            if pending_alipay:
                # The Alipay account was proven in this flow and the person just proved their phone: link them.
                account = flows.unseal(protector, current, "alipay", pending_alipay)
                service.link_alipay(session, protector, person.id, account)
            has_totp = totp.is_enrolled(session, person.id)
            row = session.merge(current)
            row.person_id = person.id
            row.pending_factors = ["totp"] if has_totp else []
            row.params = {**{k: v for k, v in row.params.items() if k != ALIPAY_PENDING}, AMR: "sms"}
            session.flush()
            session.expunge(row)
        if has_totp:
            return RedirectResponse(f"/login/totp?flow={current.id}", 303)
        return finish_login(request, provider, row)

    return await run_in_threadpool(work)


@router.get("/login/totp")
async def totp_page(request: Request, provider: ProviderDep, flow: str = "") -> Response:
    def work() -> Response:
        current = load_flow(request, provider, flow)
        if "totp" not in current.pending_factors:
            return RedirectResponse(f"/login?flow={current.id}", 303)
        return _page(request, provider, "login_totp.html", current)

    return await run_in_threadpool(work)


@router.post("/login/totp")
async def check_totp(
    request: Request,
    provider: ProviderDep,
    flow: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=128)],
    code: Annotated[str, Form(max_length=16)],
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "login", flow)
        current = load_flow(request, provider, flow)
        if "totp" not in current.pending_factors or not current.person_id:
            return RedirectResponse(f"/login?flow={current.id}", 303)
        t = messages(pick_language(request))
        with provider.runtime.transaction() as session:
            outcome = totp.verify_second_factor(
                session, provider.runtime.protector, current.person_id, code.strip(), provider.settings.otp_max_attempts
            )
            if outcome is None:
                row = session.merge(current)
                row.pending_factors = []
                row.params = {**row.params, AMR: row.params.get(AMR, "") + " otp"}
                session.flush()
                session.expunge(row)
        if outcome is not None:
            error = _locked(t, outcome) if outcome.reason == "locked" else t["wrong_code"]
            return _page(request, provider, "login_totp.html", current, 400, error=error)
        return finish_login(request, provider, row)

    return await run_in_threadpool(work)


@router.get("/login/alipay")
async def alipay_start(request: Request, provider: ProviderDep, flow: str = "") -> Response:
    """Sign in with Alipay: the state names the flow and is keyed to this browser."""

    def work() -> Response:
        current = load_flow(request, provider, flow)
        alipay = provider.adapters.alipay
        if alipay is None:
            raise InvalidInput("支付宝登录未启用。Alipay sign-in is not enabled.")
        state = f"{current.id}.{csrf_token(provider.runtime.protector, 'alipay', current.id, request.cookies.get('yw_b', ''))}"
        return RedirectResponse(alipay.authorize_url(state, f"{provider.settings.issuer}/login/alipay/callback"), 303)

    return await run_in_threadpool(work)


@router.get("/login/alipay/callback")
async def alipay_callback(request: Request, provider: ProviderDep, auth_code: str = "", state: str = "") -> Response:
    def work() -> Response:
        flow_id, _, mac = state.partition(".")
        check_csrf(provider.runtime.protector, request, mac, "alipay", flow_id)
        current = load_flow(request, provider, flow_id)
        alipay = provider.adapters.alipay
        t = messages(pick_language(request))
        client = provider.clients.get(current.client_id)
        again = {"client_name": client.name if client else "", "alipay": alipay is not None}
        if alipay is None or not auth_code:
            return _page(request, provider, "login.html", current, 400, error=t["provider_down"], **again)
        try:
            token = from_thread.run(alipay.exchange_code, auth_code)
        except AdapterError:
            return _page(request, provider, "login.html", current, 503, error=t["provider_down"], **again)
        with provider.runtime.transaction() as session:
            person_id = service.alipay_person(session, provider.runtime.protector, token.account)
            row = session.merge(current)
            if person_id is None:
                # Unknown account: it may only be linked to a person who proves themselves in this same flow.
                row.params = {
                    **row.params,
                    ALIPAY_PENDING: flows.seal(provider.runtime.protector, current.id, "alipay", token.account),
                }
                session.flush()
                session.expunge(row)
                return _page(request, provider, "login.html", row, 200, notice=t["alipay_link"], **again)
            has_totp = totp.is_enrolled(session, person_id)
            row.person_id = person_id
            row.pending_factors = ["totp"] if has_totp else []
            # RFC 8176 `swk`: the Alipay app approves with credentials held in software on the person's phone.
            row.params = {**row.params, AMR: "swk"}
            session.flush()
            session.expunge(row)
        if has_totp:
            return RedirectResponse(f"/login/totp?flow={current.id}", 303)
        return finish_login(request, provider, row)

    return await run_in_threadpool(work)


def finish_login(request: Request, provider: Provider, flow: AuthFlow) -> Response:
    """All factors done: a new session (new cookie, new sid), then back to the authorization request."""
    if not flow.person_id or flow.pending_factors:
        raise InvalidInput("登录尚未完成。The sign-in is not complete.")
    amr = acr.with_mfa(flow.params.get(AMR, "").split())
    with provider.runtime.transaction() as session:
        person = session.get(Person, flow.person_id)
        if person is None:
            raise InvalidInput("该账户已不存在。The account no longer exists.")
        level = acr.session_level(person.proofing_level, amr)
        cookie, login = sessions.create(session, person.id, acr.acr_for(level), amr, provider.settings.session_ttl)
        row = session.merge(flow)
        row.params = {**row.params, FRESH_SID: login.sid}
        audit.record(
            session,
            audit.Event(
                action="login",
                subject=person.id,
                actor=person.id,
                channel="web",
                client=flow.client_id,
                detail={"amr": amr, "acr": login.acr},
            ),
        )
    response = RedirectResponse(f"/authorize/resume?flow={flow.id}", 303)
    response.set_cookie(
        sessions.COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=provider.settings.issuer.startswith("https"),
        max_age=provider.settings.session_ttl,
    )
    return response
