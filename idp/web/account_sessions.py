"""Active sessions and devices: each live SSO session of the person, and signing one or all of them out.

Signing a session out ends it, revokes the tokens issued under it, and sends each client it signed in to a
back-channel logout token, as `/logout` does (idp/oauth/signout.py). Only the person's own sessions: a session
reference of anyone else's is answered as one that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from idp import audit
from idp.db import utcnow
from idp.oauth import acr, logout, sessions, signout
from idp.oauth.models import LoginSession, SessionClient
from idp.oauth.provider import Provider
from idp.web.account_common import SignedIn, SignedInForm, beijing, page
from idp.web.account_text import account_messages
from idp.web.deps import get_provider
from idp.web.i18n import pick_language

router = APIRouter(prefix="/account", tags=["account"])
ProviderDep = Annotated[Provider, Depends(get_provider)]


def _items(provider: Provider, person_id: str, current_sid: str, t: dict[str, str]) -> list[dict[str, object]]:
    with provider.runtime.transaction() as session:
        rows = session.scalars(
            select(LoginSession)
            .where(LoginSession.person_id == person_id, LoginSession.ended_at.is_(None),
                   LoginSession.expires_at > utcnow())
            .order_by(LoginSession.created_at.desc())
        ).all()  # fmt: skip
        apps = {
            row.sid: list(session.scalars(select(SessionClient.client_id).where(SessionClient.sid == row.sid)))
            for row in rows
        }
    items = []
    for row in rows:
        names = [c.name for c in map(provider.clients.get, apps[row.sid]) if c is not None]
        items.append({
            "ref": row.sid,
            "current": row.sid == current_sid,
            "started": beijing(row.created_at),
            "expires": beijing(row.expires_at),
            "level": t[f"level_{acr.level(row.acr) or 1}"],
            "methods": "、".join(t.get(f"amr_{m}", m) for m in row.amr),
            "apps": "、".join(names),
        })  # fmt: skip
    return sorted(items, key=lambda item: not item["current"])  # this device first


@router.get("/sessions")
async def sessions_page(request: Request, provider: ProviderDep, login: SignedIn, ended: str = "") -> Response:
    def work() -> Response:
        t = account_messages(pick_language(request))
        context = {
            "items": _items(provider, login.person_id, login.sid, t),
            "notice": t["sessions_ended"] if ended else None,
        }
        return page(request, provider, "account_sessions.html", context)

    return await run_in_threadpool(work)


def _signed_out_here(request: Request, targets: signout.Targets) -> Response:
    response = RedirectResponse("/account", 303)
    response.delete_cookie(sessions.COOKIE)
    if targets:
        response.background = BackgroundTask(logout.notify, targets)
    return response


def _audit(session: Session, person_id: str, which: str, notified: int) -> None:
    audit.record(
        session,
        audit.Event(action="account.signout", subject=person_id, actor=person_id, channel="web",
                    detail={"sessions": which, "notified": notified}),
    )  # fmt: skip


@router.post("/sessions/end")
async def end_one(
    request: Request,
    provider: ProviderDep,
    login: SignedInForm,
    session_ref: Annotated[str, Form(alias="session", max_length=64)],
) -> Response:
    def work() -> Response:
        found: signout.Targets | None = None
        with provider.runtime.transaction() as session:
            row = session.scalars(select(LoginSession).where(LoginSession.sid == session_ref)).one_or_none()
            if row is not None and row.person_id == login.person_id and row.ended_at is None:
                found = signout.end_one(provider, session, row)
                _audit(session, login.person_id, "one", len(found))
        if found is None:
            t = account_messages(pick_language(request))
            context = {"items": _items(provider, login.person_id, login.sid, t), "error": t["sessions_gone"]}
            return page(request, provider, "account_sessions.html", context, 404)
        if session_ref == login.sid:
            return _signed_out_here(request, found)
        response = RedirectResponse("/account/sessions?ended=1", 303)
        if found:
            response.background = BackgroundTask(logout.notify, found)
        return response

    return await run_in_threadpool(work)


@router.post("/sessions/end-all")
async def end_all(request: Request, provider: ProviderDep, login: SignedInForm) -> Response:
    def work() -> Response:
        with provider.runtime.transaction() as session:
            targets = signout.end_all(provider, session, login.person_id)
            _audit(session, login.person_id, "all", len(targets))
        return _signed_out_here(request, targets)

    return await run_in_threadpool(work)
