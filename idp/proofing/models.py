"""Factor bindings and biometric data.

Face templates live in their own table, encrypted, never joined into identity views, deletable by the
person, and only with a face-processing consent on record; raw images are never stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, UTCDateTime, new_id, utcnow


class FaceConsent(Base):
    __tablename__ = "face_consents"

    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FaceTemplate(Base):
    __tablename__ = "face_templates"

    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    template_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlipayBinding(Base):
    """An Alipay account (by blind index) bound to one person, and a person to at most one account."""

    __tablename__ = "alipay_bindings"

    account_bidx: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BankCard(Base):
    """A UnionPay card that passed 4-element verification: only its mask and when."""

    __tablename__ = "bank_cards"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    masked: Mapped[str] = mapped_column(String(32))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdClaim(Base):
    """A name and ID number the registry confirmed belong together, claimed by a person who has not proven
    them yet. Knowledge, not ownership: never exclusive (many persons may claim one number), never a level;
    it only names what the next ownership check (carrier, face against the registry photo) is about."""

    __tablename__ = "id_claims"

    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    id_number_bidx: Mapped[str] = mapped_column(String(64), index=True)
    id_number_ct: Mapped[bytes] = mapped_column(LargeBinary)
    name_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdConflict(Base):
    """Two persons after one ID number: who held it, who claimed it, with which proofs, and what happened
    (`revoked`: the claimant's higher proof won; `refused`: it did not). Listed for operators."""

    __tablename__ = "id_conflicts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    id_number_bidx: Mapped[str] = mapped_column(String(64), index=True)
    holder_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    claimant_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    holder_proof: Mapped[int] = mapped_column(Integer)
    claimant_proof: Mapped[int] = mapped_column(Integer)
    claimant_source: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
