"""Kiosk tables: which OAuth clients are kiosks and in which hall, and their single-use liveness challenges."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, UTCDateTime, utcnow


class KioskDevice(Base):
    """A kiosk: a private_key_jwt client (its key pair made at registration) placed in one service hall."""

    __tablename__ = "kiosk_devices"

    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), primary_key=True)
    hall: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class KioskChallenge(Base):
    """A liveness challenge handed to a kiosk: one identify attempt may use it, once, before it expires.
    Only a hash of its id is kept; the actions are not secret (the kiosk shows them to the citizen)."""

    __tablename__ = "kiosk_challenges"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), index=True)
    actions: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
