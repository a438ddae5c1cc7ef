"""Download my data (PIPL art. 45) and close my account (PIPL art. 47).

The export is a POST with the account CSRF token (the file holds the person's full ID number and phone, so no
link to it can be followed from elsewhere) answered `no-store`. Closing asks twice: the page, then the typed
confirmation word; the erasure is one transaction (idp/account/closure.py), after which the browser's session
cookie is cleared and the clients are told by back-channel logout.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp.account import closure, export
from idp.oauth import logout, sessions
from idp.oauth.provider import Provider
from idp.web.account_common import SignedIn, SignedInForm, no_store, page
from idp.web.account_text import ACCOUNT, account_messages
from idp.web.deps import get_provider
from idp.web.i18n import pick_language
from idp.web.pages import render

router = APIRouter(prefix="/account", tags=["account"])
ProviderDep = Annotated[Provider, Depends(get_provider)]
# Either language's word confirms, whichever language the page was shown in.
CONFIRM_WORDS = {texts["close_word"].casefold() for texts in ACCOUNT.values()}


@router.get("/data")
async def data_page(request: Request, provider: ProviderDep, login: SignedIn) -> Response:
    def work() -> Response:
        return page(request, provider, "account_data.html", {})

    return await run_in_threadpool(work)


@router.post("/data")
async def data_download(request: Request, provider: ProviderDep, login: SignedInForm) -> Response:
    def work() -> Response:
        with provider.runtime.transaction() as session:
            data = export.collect(session, provider.runtime.protector, login.person_id)
        body = json.dumps(data, ensure_ascii=False, indent=2).encode()
        headers = {"Content-Disposition": 'attachment; filename="yiwang-my-data.json"'}
        return no_store(Response(body, media_type="application/json", headers=headers))

    return await run_in_threadpool(work)


@router.get("/close")
async def close_page(request: Request, provider: ProviderDep, login: SignedIn) -> Response:
    def work() -> Response:
        return page(request, provider, "account_close.html", {})

    return await run_in_threadpool(work)


@router.post("/close")
async def close_account(
    request: Request,
    provider: ProviderDep,
    login: SignedInForm,
    confirm: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    def work() -> Response:
        t = account_messages(pick_language(request))
        if confirm.strip().casefold() not in CONFIRM_WORDS:
            error = t["close_wrong_word"].format(word=t["close_word"])
            return page(request, provider, "account_close.html", {"error": error}, 400)
        with provider.runtime.transaction() as session:
            targets = closure.close(provider, session, login.person_id)
        response = no_store(render(request, "account_closed.html", {"t": t, "signed_in": False}))
        response.delete_cookie(sessions.COOKIE)
        if targets:
            response.background = BackgroundTask(logout.notify, targets)
        return response

    return await run_in_threadpool(work)
