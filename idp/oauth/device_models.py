"""The table of the device authorization grant (RFC 8628): one row per device authorization request.

The device code is a bearer secret of 256 bits: stored only as its SHA-256. The user code is short (8 letters
of 20, about 34.6 bits) and must be found by what a person types, so it is stored as a keyed index (HMAC), never
as itself; guessing it is rate-limited at the verification page.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, UTCDateTime, utcnow


class DeviceGrant(Base):
    __tablename__ = "oauth_device_grants"

    device_code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_code_index: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text)
    acr_values: Mapped[str | None] = mapped_column(String(255))
    # pending → approved → used, or pending → denied.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    interval: Mapped[int] = mapped_column(Integer)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who approved, and how they authenticated (what the tokens will say).
    person_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str] | None] = mapped_column(JSON)
    auth_time: Mapped[int | None] = mapped_column(Integer)
