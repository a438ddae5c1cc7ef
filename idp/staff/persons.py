"""What the console shows of a person, and unlocking their lockouts: masked, by blind index only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from idp import audit
from idp.audit.events import AuditEvent
from idp.errors import InvalidInput
from idp.identity import InvalidIdentifier, normalize_mobile
from idp.oauth import otp, totp
from idp.oauth.models import Lockout
from idp.records import people
from idp.records.models import Person
from keys.protector import Protector

HISTORY_ACTIONS = (
    "proofing.raise",
    "proofing.counter",
    "proofing.binding_revoked",
    "proofing.conflict",
    "login.step_up",
)


@dataclass(frozen=True)
class Lock:
    kind: str  # "phone" (SMS codes) or "totp"
    locked_until: datetime | None
    failures: int


def find(session: Session, protector: Protector, query: str) -> Person | None:
    """By ID number or mainland mobile number, through their blind indexes; None for anything else."""
    query = query.strip()
    try:
        return people.find_by_id_number(session, protector, query)
    except (InvalidInput, InvalidIdentifier):
        pass
    try:
        return people.find_by_phone(session, protector, normalize_mobile(query))
    except (InvalidInput, InvalidIdentifier):
        return None


def _lockouts(session: Session, person: Person, *, lock: bool = False) -> list[tuple[str, Lockout]]:
    """The person's authenticator lockout and their number's SMS lockouts (one per device that failed)."""
    found: list[tuple[str, Lockout]] = []
    row = session.get(Lockout, totp.lockout_subject(person.id), with_for_update=lock)
    if row is not None:
        found.append(("totp", row))
    if person.phone_bidx:
        query = select(Lockout).where(
            Lockout.subject.startswith(otp.phone_subjects(person.phone_bidx), autoescape=True)
        )
        found += [("phone", row) for row in session.scalars(query.with_for_update() if lock else query)]
    return found


def lockouts(session: Session, person: Person) -> list[Lock]:
    return [
        Lock(kind, row.locked_until, row.failures)
        for kind, row in _lockouts(session, person)
        if row.failures or row.locked_until
    ]


def unlock(session: Session, person: Person, *, actor: str) -> int:
    """Clear the person's SMS and authenticator lockouts (the backoff history too); how many were cleared."""
    cleared = 0
    for _, row in _lockouts(session, person, lock=True):
        if row.failures or row.locked_until or row.lockouts:
            row.failures, row.lockouts, row.locked_until = 0, 0, None
            cleared += 1
    audit.record(
        session,
        audit.Event(
            action="person.unlock", subject=person.id, actor=actor, channel="console", detail={"cleared": cleared}
        ),
    )
    return cleared


def history(session: Session, person: Person, limit: int = 50) -> list[dict[str, Any]]:
    """The person's level over time: the proofing evidence kept on the record, then the audited events."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject == person.id, or_(*(AuditEvent.action == a for a in HISTORY_ACTIONS)))
        .order_by(AuditEvent.at.desc())
        .limit(limit)
    )
    return [
        {"at": e.at, "action": e.action, "outcome": e.outcome, "channel": e.channel, "detail": e.detail} for e in events
    ]
