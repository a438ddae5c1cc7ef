"""The CIBA request store (OpenID Connect CIBA Core 1.0): one row per backchannel authentication request.

`auth_req_id` (given to the client) and the link token (sent to the citizen by SMS) are random and stored only
as SHA-256 hashes. The binding message and the client's notification token are encrypted under the field keys.
A request for a phone nobody registered has no `person_id`: it is stored like any other and simply expires.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, UTCDateTime, new_id, utcnow

PENDING, APPROVED, DENIED = "pending", "approved", "denied"


class CibaRequest(Base):
    __tablename__ = "ciba_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    req_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text)
    acr_values: Mapped[str | None] = mapped_column(String(255))
    binding_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    notify_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    interval: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the approving sign-in proved (set on approval).
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[int | None] = mapped_column(Integer)
    sid: Mapped[str | None] = mapped_column(String(64))
