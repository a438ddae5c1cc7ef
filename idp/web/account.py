"""A person's own pages: what they authorised (and withdrawing it), their TOTP authenticator (enrol with a
QR code and recovery codes, disable), their face data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from idp.oauth import consent, otp, recovery, scopes, totp
from idp.oauth.models import LoginSession
from idp.oauth.provider import Provider
from idp.proofing import service
from idp.proofing.models import FaceConsent, FaceTemplate
from idp.records import people
from idp.web import qr
from idp.web.account_common import BEIJING, SignedIn, SignedInForm, beijing, no_store, page
from idp.web.deps import get_provider
from idp.web.i18n import messages, pick_language

router = APIRouter(prefix="/account", tags=["account"])
ProviderDep = Annotated[Provider, Depends(get_provider)]


@router.get("/consents")
async def consents_page(request: Request, provider: ProviderDep, login: SignedIn) -> Response:
    def work() -> Response:
        with provider.runtime.transaction() as session:
            found = consent.list_for(session, login.person_id)
        lang = pick_language(request)
        items = [
            {"client_id": c.client_id, "client_name": c.client_name, "granted_at": beijing(c.granted_at),
             "scopes": [text for _, text in scopes.describe(c.scopes, lang)] or c.scopes}
            for c in found
        ]  # fmt: skip
        return page(request, provider, "consents.html", {"items": items})

    return await run_in_threadpool(work)


@router.post("/consents/revoke")
async def consents_revoke(
    request: Request,
    provider: ProviderDep,
    login: SignedInForm,
    client_id: Annotated[str, Form(max_length=64)],
) -> Response:
    def work() -> Response:
        provider.runtime.run(lambda s: consent.revoke(s, login.person_id, client_id))
        return RedirectResponse("/account/consents", 303)

    return await run_in_threadpool(work)


TOTP_ISSUER = "Yiwang"


def _totp_refusal(t: dict[str, str], refused: otp.OtpRefused) -> str:
    if refused.reason == "locked" and refused.locked_until is not None:
        return t["totp_locked"].format(until=refused.locked_until.astimezone(BEIJING).strftime("%H:%M"))
    if refused.reason in ("no_enrolment", "no_factor"):
        return t["totp_no_enrolment"]
    return t["wrong_code"]


def _totp_view(
    request: Request, provider: Provider, login: LoginSession, status: int = 200, **extra: object
) -> Response:
    """The authenticator page in whatever state the person's factor is: read only."""
    protector = provider.runtime.protector
    with provider.runtime.transaction() as session:
        enrolled = totp.is_enrolled(session, login.person_id)
        left = recovery.remaining(session, login.person_id) if enrolled else 0
        shown = None
        if not enrolled:
            label = people.view(session, protector, people.get(session, login.person_id)).phone or ""
            shown = totp.pending(session, protector, login.person_id, TOTP_ISSUER, label)
    context: dict[str, object] = {"enrolled": enrolled, "remaining": left, "pending": shown, **extra}
    if shown is not None:
        t = messages(pick_language(request))
        context["qr"] = qr.svg(shown.uri, t["totp_enrol_title"])
        context["secret_groups"] = " ".join(shown.secret[i : i + 4] for i in range(0, len(shown.secret), 4))
    return no_store(page(request, provider, "totp_enrol.html", context, status))


@router.get("/totp")
async def totp_page(request: Request, provider: ProviderDep, login: SignedIn) -> Response:
    def work() -> Response:
        return _totp_view(request, provider, login)

    return await run_in_threadpool(work)


@router.post("/totp/start")
async def totp_start(request: Request, provider: ProviderDep, login: SignedInForm) -> Response:
    """A new pending secret; the page then shows it (POST, redirect, GET: reloading shows the same one)."""

    def work() -> Response:
        with provider.runtime.transaction() as session:
            started = totp.start_enrolment(session, provider.runtime.protector, login.person_id)
        if not started:
            t = messages(pick_language(request))
            return _totp_view(request, provider, login, 409, error=t["totp_already"])
        return RedirectResponse("/account/totp", 303)

    return await run_in_threadpool(work)


@router.post("/totp/confirm")
async def totp_confirm(
    request: Request,
    provider: ProviderDep,
    login: SignedInForm,
    code: Annotated[str, Form(max_length=64)],
) -> Response:
    def work() -> Response:
        t = messages(pick_language(request))
        # A refusal is returned, not raised: the failure it counted must commit.
        with provider.runtime.transaction() as session:
            outcome = totp.confirm_enrolment(
                session, provider.runtime.protector, login.person_id, code, provider.settings.otp_max_attempts
            )
        if isinstance(outcome, otp.OtpRefused):
            return _totp_view(request, provider, login, 400, error=_totp_refusal(t, outcome))
        # Shown once, in this response only: the codes exist nowhere else in readable form.
        return no_store(
            page(request, provider, "totp_enrol.html", {"enrolled": True, "done": True, "recovery_codes": outcome})
        )

    return await run_in_threadpool(work)


@router.post("/totp/disable")
async def totp_disable(
    request: Request,
    provider: ProviderDep,
    login: SignedInForm,
    code: Annotated[str, Form(max_length=64)],
) -> Response:
    def work() -> Response:
        t = messages(pick_language(request))
        with provider.runtime.transaction() as session:
            refused = totp.disable(
                session, provider.runtime.protector, login.person_id, code, provider.settings.otp_max_attempts
            )
        if refused is not None:
            return _totp_view(request, provider, login, 400, error=_totp_refusal(t, refused))
        return _totp_view(request, provider, login, notice=t["totp_disabled"])

    return await run_in_threadpool(work)


@router.get("/face")
async def face_data_page(request: Request, provider: ProviderDep, login: SignedIn) -> Response:
    def work() -> Response:
        with provider.runtime.transaction() as session:
            template = session.get(FaceTemplate, login.person_id)
            agreed = session.get(FaceConsent, login.person_id)
            context = {
                "stored_at": beijing(template.created_at) if template else None,
                "consent_at": beijing(agreed.granted_at) if agreed else None,
            }
        return page(request, provider, "face_data.html", context)

    return await run_in_threadpool(work)


@router.post("/face/delete")
async def face_data_delete(request: Request, provider: ProviderDep, login: SignedInForm) -> Response:
    def work() -> Response:
        provider.runtime.run(lambda s: service.delete_face_data(s, login.person_id))
        return RedirectResponse("/account/face", 303)

    return await run_in_threadpool(work)
