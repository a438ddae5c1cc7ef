"""Tables of the authentication engine: accepted user agreements, and one-time counter codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, UTCDateTime, utcnow


class TermsAcceptance(Base):
    """Which version of the user agreement and privacy notice a person accepted, and when (PIPL art. 14, 17)."""

    __tablename__ = "terms_acceptances"

    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))


class CounterCode(Base):
    """A one-time code a citizen shows at a service-hall counter; staff redeem it after an in-person check.

    Only a keyed hash of the code is stored. The code names the waiting sign-in (`flow_id`) and its person.
    """

    __tablename__ = "counter_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(64), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hall: Mapped[str | None] = mapped_column(String(64))
    staff: Mapped[str | None] = mapped_column(String(64))


class KnownSmsDevice(Base):
    """A browser that signed in with a phone's SMS code: its sends for that phone skip the friction and the
    budgets shared with other devices (idp/authn/sms_limits.py). Both keys are keyed hashes."""

    __tablename__ = "sms_known_devices"

    phone_bidx: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_sign_in: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
