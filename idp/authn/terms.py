"""The user agreement and privacy notice (PIPL art. 14, 17): accepted before the first registration, again when
a new version is published; each acceptance is recorded with its version."""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp import audit
from idp.authn.models import TermsAcceptance


def accepted(session: Session, person_id: str, version: str) -> bool:
    return session.get(TermsAcceptance, (person_id, version)) is not None


def accept(session: Session, person_id: str, version: str, channel: str) -> bool:
    """Record that the person accepted `version`; False if they already had."""
    if accepted(session, person_id, version):
        return False
    session.add(TermsAcceptance(person_id=person_id, version=version, channel=channel))
    audit.record(
        session,
        audit.Event(
            action="terms.accept", subject=person_id, actor=person_id, channel=channel, detail={"version": version}
        ),
    )
    return True
