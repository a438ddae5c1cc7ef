"""A person's own pages: what they authorised (and withdrawing it), and enrolling a TOTP authenticator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from idp.oauth import consent, sessions, totp
from idp.oauth.models import LoginSession
from idp.oauth.provider import Provider
from idp.proofing import service
from idp.proofing.models import FaceTemplate
from idp.web.browser import check_csrf, csrf_token, ensure_browser, set_browser
from idp.web.deps import get_provider
from idp.web.i18n import messages, pick_language
from idp.web.pages import render

router = APIRouter(prefix="/account", tags=["account"])
ProviderDep = Annotated[Provider, Depends(get_provider)]


def _login(request: Request, provider: Provider) -> LoginSession | None:
    with provider.runtime.transaction() as session:
        login = sessions.load(session, request.cookies.get(sessions.COOKIE))
        if login is not None:
            session.expunge(login)
        return login


def _page(request: Request, provider: Provider, name: str, context: dict[str, object], status: int = 200) -> Response:
    browser = ensure_browser(request)
    csrf = csrf_token(provider.runtime.protector, "account", "-", browser)
    page = render(request, name, {"csrf": csrf, **context}, status_code=status)
    return set_browser(request, page, provider.settings.issuer.startswith("https"))


def _signed_out(request: Request) -> Response:
    t = messages(pick_language(request))
    return render(request, "error.html", {"detail": t["please_sign_in"]}, status_code=401)


@router.get("/consents")
async def consents_page(request: Request, provider: ProviderDep) -> Response:
    def work() -> Response:
        login = _login(request, provider)
        if login is None:
            return _signed_out(request)
        with provider.runtime.transaction() as session:
            items = consent.list_for(session, login.person_id)
        return _page(request, provider, "consents.html", {"items": items})

    return await run_in_threadpool(work)


@router.post("/consents/revoke")
async def consents_revoke(
    request: Request,
    provider: ProviderDep,
    csrf: Annotated[str, Form(max_length=128)],
    client_id: Annotated[str, Form(max_length=64)],
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "account", "-")
        login = _login(request, provider)
        if login is None:
            return _signed_out(request)
        provider.runtime.run(lambda s: consent.revoke(s, login.person_id, client_id))
        return RedirectResponse("/account/consents", 303)

    return await run_in_threadpool(work)


@router.get("/totp")
async def totp_page(request: Request, provider: ProviderDep) -> Response:
    def work() -> Response:
        login = _login(request, provider)
        if login is None:
            return _signed_out(request)
        with provider.runtime.transaction() as session:
            uri = totp.begin_enrolment(
                session, provider.runtime.protector, login.person_id, "Yiwang", f"yiwang:{login.sid[:8]}"
            )
        return _page(request, provider, "totp_enrol.html", {"uri": uri})

    return await run_in_threadpool(work)


@router.post("/totp")
async def totp_confirm(
    request: Request,
    provider: ProviderDep,
    csrf: Annotated[str, Form(max_length=128)],
    code: Annotated[str, Form(max_length=16)],
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "account", "-")
        login = _login(request, provider)
        if login is None:
            return _signed_out(request)
        t = messages(pick_language(request))
        with provider.runtime.transaction() as session:
            refused = totp.confirm(
                session, provider.runtime.protector, login.person_id, code.strip(), provider.settings.otp_max_attempts
            )
        if refused is not None:
            return _page(request, provider, "totp_enrol.html", {"error": t["wrong_totp"]}, 400)
        return render(request, "error.html", {"detail": t["totp_enrolled"]})

    return await run_in_threadpool(work)


@router.get("/face")
async def face_data_page(request: Request, provider: ProviderDep) -> Response:
    def work() -> Response:
        login = _login(request, provider)
        if login is None:
            return _signed_out(request)
        with provider.runtime.transaction() as session:
            stored = session.get(FaceTemplate, login.person_id) is not None
        return _page(request, provider, "face_data.html", {"stored": stored})

    return await run_in_threadpool(work)


@router.post("/face/delete")
async def face_data_delete(
    request: Request, provider: ProviderDep, csrf: Annotated[str, Form(max_length=128)]
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "account", "-")
        login = _login(request, provider)
        if login is None:
            return _signed_out(request)
        provider.runtime.run(lambda s: service.delete_face_data(s, login.person_id))
        return RedirectResponse("/account/face", 303)

    return await run_in_threadpool(work)
