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


def _subjects(person: Person) -> dict[str, str]:
    out = {"totp": totp.lockout_subject(person.id)}
    if person.phone_bidx:
        out["phone"] = otp.phone_subject(person.phone_bidx)
    return out


def lockouts(session: Session, person: Person) -> list[Lock]:
    out = []
    for kind, subject in _subjects(person).items():
        row = session.get(Lockout, subject)
        if row is not None and (row.failures or row.locked_until):
            out.append(Lock(kind, row.locked_until, row.failures))
    return out


def unlock(session: Session, person: Person, *, actor: str) -> int:
    """Clear the person's SMS and authenticator lockouts (the backoff history too); how many were cleared."""
    cleared = 0
    for subject in _subjects(person).values():
        row = session.get(Lockout, subject, with_for_update=True)
        if row is not None and (row.failures or row.locked_until or row.lockouts):
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
