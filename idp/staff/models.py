"""Tables of the operator console: roles granted to an ID number, and console sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, UTCDateTime, new_id, utcnow


class StaffRole(Base):
    """A console role granted to an ID number (by its blind index), not to an account.

    Like organisation roles, a staff role belongs to whoever proves they own the number: if a stronger proof
    moves the number to another account, the role goes with it, and an account holding the number by a weak
    claim holds no role (`idp.staff.roles.held`). A revoked role is deleted; the audit trail keeps its history.
    """

    __tablename__ = "staff_roles"
    __table_args__ = (UniqueConstraint("id_number_bidx", "role", name="uq_staff_roles_number_role"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    id_number_bidx: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    # A counter role may be bound to one service hall (settings.halls); None: any hall.
    hall: Mapped[str | None] = mapped_column(String(64))
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsoleSession(Base):
    """A staff member signed in to the console. Only a hash of the cookie value is stored.

    The absolute lifetime is `expires_at`; the idle timeout is carried by the cookie itself (a keyed "last
    seen" stamp renewed on every console response), so that reading a console page writes nothing.
    """

    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    sid: Mapped[str] = mapped_column(String(64))  # the SSO session the console's sign-in came from
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the staff member last proved the second factor (sign-in, or asked again before a dangerous action).
    factor_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
