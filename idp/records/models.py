"""Identity records. Personal data lives only as ciphertext (`*_ct`) plus, for exact lookups, a blind index.

Face templates are deliberately not here: biometric data is stored apart from identity data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, UTCDateTime, new_id, utcnow


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Unique blind index: one ID number can never make two persons, even under concurrent writes.
    id_number_bidx: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_number_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_type: Mapped[str | None] = mapped_column(String(32))
    # How the bound ID number was proven to be this person's (idp/proofing/strength.py): a higher proof by
    # someone else takes the binding over; 0 for a binding carried over from before proofs were recorded.
    id_proof: Mapped[int] = mapped_column(Integer, default=0)
    id_proof_source: Mapped[str | None] = mapped_column(String(32))
    name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_bidx: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    proofing_level: Mapped[int] = mapped_column(Integer, default=1)
    # Which source proved what and when; never the personal data itself.
    proofing_evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SocialSecurityCard(Base):
    """The card bound to a person. Its number changes on reissue, so it is an attribute, not an identifier."""

    __tablename__ = "social_security_cards"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    card_number_ct: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="active")
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # The USCC and the registered name are public registry data, so they are stored in clear.
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    legal_rep_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "person_id", "role", name="uq_memberships_org_person_role"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
