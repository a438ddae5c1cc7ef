"""`sub`: pairwise per sector by default (OIDC Core §8.1), public only for clients registered so.

A pairwise sub is an HMAC of the person under a sector-specific domain, so two departments can't join
their records on it; the mapping back to the person is stored for userinfo and introspection.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.oauth.clients import Client
from idp.oauth.models import PairwiseSubject
from keys.protector import Protector

PUBLIC = ""


def subject(session: Session, protector: Protector, client: Client, person_id: str) -> str:
    if client.subject_type == "public":
        return person_id
    sub = protector.index(f"sub:{client.sector}", person_id)
    known = session.get(PairwiseSubject, (client.sector, sub))
    if known is None:
        try:
            with session.begin_nested():
                session.add(PairwiseSubject(sector=client.sector, sub=sub, person_id=person_id))
        except IntegrityError:
            pass  # another request recorded the same pair first
    return sub


def person_for(session: Session, client: Client, sub: str) -> str | None:
    if client.subject_type == "public":
        return sub
    return session.scalar(
        select(PairwiseSubject.person_id).where(PairwiseSubject.sector == client.sector, PairwiseSubject.sub == sub)
    )
