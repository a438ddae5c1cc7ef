"""A person's sign-in history, read from the audit trail (the events that name them as subject)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit.events import AuditEvent

SIGN_IN_ACTIONS = ("login", "login.step_up", "logout", "console.sign_in", "account.signout")


@dataclass(frozen=True)
class Entry:
    at: datetime
    action: str
    channel: str
    client: str | None
    methods: list[str]
    acr: str | None
    outcome: str
    network: str | None  # masked (idp.place): "121.36.*.*"


def sign_ins(session: Session, person_id: str, limit: int = 50) -> list[Entry]:
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject == person_id, AuditEvent.action.in_(SIGN_IN_ACTIONS))
        .order_by(AuditEvent.at.desc())
        .limit(limit)
    )
    return [
        Entry(
            r.at,
            r.action,
            r.channel,
            r.client,
            list(r.detail.get("amr") or []),
            r.detail.get("acr"),
            r.outcome,
            r.detail.get("network"),
        )
        for r in rows
    ]


def everything(session: Session, person_id: str) -> list[dict[str, object]]:
    """Every audit event that names the person (as subject or actor), oldest first: for their data export."""
    rows = session.scalars(
        select(AuditEvent)
        .where((AuditEvent.subject == person_id) | (AuditEvent.actor == person_id))
        .order_by(AuditEvent.at)
    )
    return [
        {"at": r.at.isoformat(), "action": r.action, "channel": r.channel, "client": r.client,
         "outcome": r.outcome, "detail": r.detail}
        for r in rows
    ]  # fmt: skip
