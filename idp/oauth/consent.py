"""Consent: remembered per person and client, shown and revocable by the person.

Revoking consent also revokes the client's refresh tokens for that person, so nothing keeps flowing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.db import utcnow
from idp.errors import NotFound
from idp.oauth.models import Consent, OAuthClient, RefreshToken

# Scopes that release nothing and so need no consent of their own.
SILENT = {"openid"}


def granted_scopes(session: Session, person_id: str, client_id: str) -> set[str]:
    row = session.scalar(select(Consent).where(Consent.person_id == person_id, Consent.client_id == client_id))
    return set(row.scopes) if row else set()


def missing(session: Session, person_id: str, client_id: str, requested: list[str]) -> list[str]:
    have = granted_scopes(session, person_id, client_id) | SILENT
    return [s for s in requested if s not in have]


def grant(session: Session, person_id: str, client_id: str, scope_names: list[str]) -> None:
    row = session.scalar(select(Consent).where(Consent.person_id == person_id, Consent.client_id == client_id))
    if row is None:
        session.add(Consent(person_id=person_id, client_id=client_id, scopes=sorted(set(scope_names))))
    else:
        row.scopes = sorted(set(row.scopes) | set(scope_names))
        row.granted_at = utcnow()
    audit.record(
        session,
        audit.Event(
            action="consent.grant",
            subject=person_id,
            actor=person_id,
            channel="web",
            client=client_id,
            detail={"scopes": sorted(set(scope_names))},
        ),
    )


@dataclass(frozen=True)
class ConsentView:
    client_id: str
    client_name: str
    scopes: list[str]
    granted_at: datetime


def list_for(session: Session, person_id: str) -> list[ConsentView]:
    rows = session.execute(
        select(Consent, OAuthClient.name)
        .join(OAuthClient, OAuthClient.client_id == Consent.client_id)
        .where(Consent.person_id == person_id)
        .order_by(Consent.granted_at.desc())
    ).all()
    return [ConsentView(c.client_id, name, list(c.scopes), c.granted_at) for c, name in rows]


def revoke(session: Session, person_id: str, client_id: str) -> None:
    row = session.scalar(select(Consent).where(Consent.person_id == person_id, Consent.client_id == client_id))
    if row is None:
        raise NotFound("no such consent")
    session.delete(row)
    now = utcnow()
    for token in session.scalars(
        select(RefreshToken).where(
            RefreshToken.person_id == person_id, RefreshToken.client_id == client_id, RefreshToken.revoked_at.is_(None)
        )
    ):
        token.revoked_at = now
    audit.record(
        session,
        audit.Event(action="consent.revoke", subject=person_id, actor=person_id, channel="web", client=client_id),
    )
