"""SSO sessions: a random cookie value (stored hashed) naming a `LoginSession` row.

A new session — new cookie value, new `sid` — is created at every login, so a fixated or stolen
pre-login cookie is worth nothing afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.db import utcnow
from idp.oauth.models import LoginSession, SessionClient
from idp.oauth.tokens import AuthUser

COOKIE = "yw_session"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def create(session: Session, person_id: str, acr: str, amr: list[str], ttl: int) -> tuple[str, LoginSession]:
    value = secrets.token_urlsafe(32)
    row = LoginSession(
        id_hash=_hash(value),
        sid=secrets.token_urlsafe(16),
        person_id=person_id,
        acr=acr,
        amr=amr,
        auth_time=int(time.time()),
        expires_at=utcnow() + timedelta(seconds=ttl),
    )
    session.add(row)
    session.flush()
    return value, row


def load(session: Session, cookie_value: str | None) -> LoginSession | None:
    if not cookie_value or len(cookie_value) > 100:
        return None
    row = session.get(LoginSession, _hash(cookie_value))
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    return row


def as_user(row: LoginSession) -> AuthUser:
    return AuthUser(row.person_id, row.acr, tuple(row.amr), row.auth_time, row.sid)


def step_up(session: Session, row: LoginSession, acr: str, amr: list[str]) -> None:
    """This authentication proved more (identity proofing, a live face): the session's acr and amr say so."""
    live = session.merge(row)
    live.acr, live.amr = acr, amr


def remember_client(session: Session, sid: str, client_id: str) -> None:
    if session.get(SessionClient, (sid, client_id)) is None:
        try:
            with session.begin_nested():
                session.add(SessionClient(sid=sid, client_id=client_id))
        except IntegrityError:
            pass


def end(session: Session, row: LoginSession) -> list[str]:
    """End the session; returns the ids of the clients it signed in to (for back-channel logout)."""
    row.ended_at = utcnow()
    return list(session.scalars(select(SessionClient.client_id).where(SessionClient.sid == row.sid)))


def end_sid(session: Session, sid: str) -> None:
    """End one session by its sid (a shared device's journey was cancelled: its sign-in goes with it)."""
    row = session.scalars(select(LoginSession).where(LoginSession.sid == sid)).one_or_none()
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()


def end_all_for(session: Session, person_id: str) -> list[str]:
    """End every live SSO session of a person (their identity was taken away); returns the ended sids."""
    now = utcnow()
    ended = []
    for row in session.scalars(
        select(LoginSession).where(LoginSession.person_id == person_id, LoginSession.ended_at.is_(None))
    ):
        row.ended_at = now
        ended.append(row.sid)
    return ended
