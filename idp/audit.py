"""The audit trail: append-only, hash-chained events.

Each event's hash covers its fields and the previous event's hash, so altering, removing or reordering any
record breaks the chain from that point on. A one-row head (`audit_head`) holds the last sequence number and
hash; appending updates it first, which serialises writers on every backend and exposes truncation.
Database triggers (see the migration) refuse UPDATE and DELETE on events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from idp.db import Base, UTCDateTime, utcnow
from idp.masking import mask_text

GENESIS = "0" * 64


class AuditEvent(Base):
    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    client: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


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
    """The event's content, as hashed and as shown (JSON output of `audit tail`)."""
    return {
        "seq": row.seq,
        "at": row.at.isoformat(timespec="microseconds"),
        "actor": row.actor,
        "action": row.action,
        "subject": row.subject,
        "channel": row.channel,
        "client": row.client,
        "outcome": row.outcome,
        "detail": row.detail,
    }


def _digest(row: AuditEvent) -> str:
    body = {**as_dict(row), "prev": row.prev_hash}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


_PENDING = "yiwang.audit.pending"


def record(session: Session, event: Event) -> None:
    """Append `event` in the caller's transaction: it commits, or vanishes, with the change it describes.

    The event is written at commit time (see `_append_pending`): the head row that orders the chain is then
    locked only for the moment of the commit, not for the whole transaction, so writers queue briefly.
    """
    session.info.setdefault(_PENDING, []).append(event)


def _append(session: Session, event: Event) -> AuditEvent:
    # The UPDATE comes first so that it takes the row lock (PostgreSQL) before we read the head.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    row = AuditEvent(
        seq=head.seq,
        at=utcnow(),
        actor=mask_text(event.actor),
        action=event.action,
        subject=mask_text(event.subject),
        channel=event.channel,
        client=event.client,
        outcome=event.outcome,
        detail=_masked(event.detail),
        prev_hash=head.hash,
    )
    row.hash = _digest(row)
    session.add(row)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=row.hash))
    session.flush()
    return row


@sa_event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's commit: the events wait for the real one
    pending = session.info.pop(_PENDING, None)
    for item in pending or ():
        _append(session, item)


@sa_event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction: SessionTransaction) -> None:
    # Only the outermost transaction's end discards what it didn't commit: a savepoint rolled back inside it
    # (a caught IntegrityError) must not take the transaction's other events with it.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None


def _rows(session: Session, batch: int = 1000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(
            session.scalars(select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch))
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(session: Session) -> ChainReport:
    """Walk the chain; name the first record that was altered or is missing."""
    expected_seq, prev, checked = 1, GENESIS, 0
    for row in _rows(session):
        if row.seq != expected_seq:
            return ChainReport(False, checked, expected_seq, f"record {expected_seq} is missing")
        if row.prev_hash != prev or _digest(row) != row.hash:
            return ChainReport(False, checked, row.seq, f"record {row.seq} was altered")
        prev, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    if head is None:
        return ChainReport(False, checked, None, "the audit head is missing")
    if head.seq != checked:
        first = checked + 1
        return ChainReport(False, checked, first, f"record {first} is missing (head says {head.seq} records)")
    if head.hash != prev:
        return ChainReport(False, checked, head.seq, f"record {head.seq} was altered (head hash differs)")
    return ChainReport(True, checked)


def tail(session: Session, n: int) -> list[AuditEvent]:
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(n))
    return list(reversed(list(rows)))
