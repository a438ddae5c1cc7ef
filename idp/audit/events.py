"""Audit events: what happened, appended in the caller's transaction, one row each, touching no shared row.

An event is written with a random id and sits in `audit_unsealed` until the sequencer (`idp.audit.sequencer`)
gives it a place in the Merkle tree. Writers therefore never wait for one another: no head row, no counter.
Database triggers (see the migrations) refuse UPDATE and DELETE on events, leaves and tree heads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from idp.db import Base, UTCDateTime, new_id, utcnow
from idp.masking import mask_text


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    client: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditUnsealed(Base):
    """Events committed but not yet in the tree: the sequencer's work queue (its rows are deleted once sealed)."""

    __tablename__ = "audit_unsealed"

    event_id: Mapped[str] = mapped_column(ForeignKey("audit_events.id"), primary_key=True)


@dataclass(frozen=True)
class Event:
    """What happened. Subjects are record ids or masked values; `record` masks free text once more."""

    action: str
    subject: str
    outcome: str = "success"
    actor: str = "system"
    channel: str = "cli"
    client: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def as_dict(row: AuditEvent) -> dict[str, Any]:
    """The event's content, as hashed into its leaf and as shown (JSON output of `audit tail`)."""
    return {
        "id": row.id,
        "at": row.at.isoformat(timespec="microseconds"),
        "actor": row.actor,
        "action": row.action,
        "subject": row.subject,
        "channel": row.channel,
        "client": row.client,
        "outcome": row.outcome,
        "detail": row.detail,
    }


def leaf_data(row: AuditEvent) -> bytes:
    """The Merkle leaf of an event: its content as canonical JSON (sorted keys, no spaces, UTF-8)."""
    return json.dumps(as_dict(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_PENDING = "yiwang.audit.pending"
_WRITTEN = "yiwang.audit.written"


def record(session: Session, event: Event) -> None:
    """Append `event` in the caller's transaction: it commits, or vanishes, with the change it describes.

    The row is written when the transaction commits (or at `write_pending`), so that an event recorded
    before a savepoint that is later rolled back is still kept, and `at` is close to the commit time: the
    order the sequencer gives events is then close to the order they became visible.
    """
    session.info.setdefault(_PENDING, []).append(event)


def write_pending(session: Session) -> list[AuditEvent]:
    """Write the events recorded so far in this transaction now; they still commit or vanish with it."""
    rows: list[AuditEvent] = []
    written: list[Event] = []
    last: datetime | None = None
    for event in session.info.pop(_PENDING, None) or ():
        written.append(event)
        at = utcnow()
        if last is not None and at <= last:
            at = last + timedelta(microseconds=1)  # one transaction's events keep their order in the tree
        last = at
        row = AuditEvent(
            id=new_id(),
            at=at,
            actor=mask_text(event.actor),
            action=event.action,
            subject=mask_text(event.subject),
            channel=event.channel,
            client=event.client,
            outcome=event.outcome,
            detail=_masked(event.detail),
        )
        rows.append(row)
    if rows:
        session.info.setdefault(_WRITTEN, []).extend(written)
        session.add_all(rows)
        session.flush()  # events first: the queue rows refer to them
        session.add_all([AuditUnsealed(event_id=row.id) for row in rows])
        session.flush()
    return rows


@sa_event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's commit: the events wait for the real one
    write_pending(session)


@sa_event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction: SessionTransaction) -> None:
    # Only the outermost transaction's end discards what it didn't commit: a savepoint rolled back inside it
    # (a caught IntegrityError) must not take the transaction's other events with it.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_WRITTEN, None)


def committed_events(session: Session) -> list[Event]:
    """In an `after_commit` listener: the events this commit made durable (each handed out once)."""
    return list(session.info.pop(_WRITTEN, None) or ())


def tail(session: Session, n: int) -> list[AuditEvent]:
    """The last `n` events written, oldest first."""
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(n))
    return list(reversed(list(rows)))
