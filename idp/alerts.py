"""Operator alerts: something an operator must look at (a spending cap reached, a warning threshold passed).

An alert is raised in its own transaction, so it is kept even when the request that raised it is refused and
rolled back. It is raised once per event and window (a unique key), however many requests run into the same
cap, and each time it is new: one ERROR log line with a stable event name, one audit event, one row that
`yiwang alerts list` (and later the console) shows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String, UniqueConstraint, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp import audit
from idp.db import Base, UTCDateTime, new_id, utcnow
from idp.logs import get_logger

log = get_logger("yiwang.alerts")


class OperatorAlert(Base):
    __tablename__ = "operator_alerts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[int] = mapped_column(BigInteger)
    level: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("event", "window_start", name="uq_operator_alerts_event_window"),)


def raise_once(
    transaction: Callable[[], AbstractContextManager[Session]],
    event: str,
    window_start: int,
    *,
    level: str = "error",
    detail: dict[str, Any] | None = None,
) -> bool:
    """Record `event` for the window starting at `window_start` unless it already is; True when new."""
    detail = detail or {}
    with transaction() as session:
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        added = session.execute(
            insert(OperatorAlert)
            .values(id=new_id(), event=event, window_start=window_start, level=level, detail=detail, raised_at=utcnow())
            .on_conflict_do_nothing(index_elements=[OperatorAlert.event, OperatorAlert.window_start])
            .returning(OperatorAlert.id)
        ).scalar_one_or_none()
        if added is None:
            return False
        audit.record(
            session,
            audit.Event(action="alert.raised", subject=event, outcome=level, channel="system", detail=detail),
        )
    log.error(event, alert=event, level=level, window_start=window_start, **detail)
    return True


def recent(session: Session, limit: int = 100) -> list[OperatorAlert]:
    return list(session.scalars(select(OperatorAlert).order_by(OperatorAlert.raised_at.desc()).limit(limit)))
