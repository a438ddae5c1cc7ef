"""Signing tables: the PKI (authorities, issued certificates, CRLs), seals, signature records, CSC and
citizen-confirmation state.

Private keys are stored only sealed under the master key (`keys.wrap_key`, label naming the owner), or not at all
when they live in an HSM. A citizen's one-time certificate is not stored: only its serial and status, which is
what CRL and OCSP need, so no personal name reaches the database through this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keys.schema import Base, UTCDateTime, new_id, utcnow


class PkiEntity(Base):
    """One of our own PKI identities: root CA, issuing CA, time-stamping unit, OCSP signer."""

    __tablename__ = "pki_entities"

    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    cert_der: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IssuedCertificate(Base):
    """Every certificate a CA of ours signed: what CRL and OCSP answer from."""

    __tablename__ = "pki_certificates"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  # lower-case hex
    issuer_role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # ca, tsa, ocsp, seal, personal
    status: Mapped[str] = mapped_column(String(16), default="good")  # good, revoked
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Crl(Base):
    """Issued CRLs; the highest number per issuer is the current one (RFC 5280 §5.2.3)."""

    __tablename__ = "pki_crls"

    issuer_role: Mapped[str] = mapped_column(String(16), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    this_update: Mapped[datetime] = mapped_column(UTCDateTime)
    next_update: Mapped[datetime] = mapped_column(UTCDateTime)


class Seal(Base):
    __tablename__ = "seals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    image_png: Mapped[bytes] = mapped_column(LargeBinary)
    image_source: Mapped[str] = mapped_column(String(16))  # drawn, uploaded
    cert_serial: Mapped[str] = mapped_column(ForeignKey("pki_certificates.serial"), unique=True)
    cert_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_alg: Mapped[str] = mapped_column(String(16))  # ec-p256, rsa-2048, sm2
    key_backend: Mapped[str] = mapped_column(String(16))  # sealed, pkcs11
    sealed_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    pkcs11_label: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active, revoked
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # pades (X.509 + PAdES on PDF) or gb38540 (SM2 certificate + SESeal, sealing OFD and PDF)
    format: Mapped[str] = mapped_column(String(16), default="pades", server_default="pades")
    ses_seal: Mapped[bytes | None] = mapped_column(LargeBinary)  # DER GB/T 38540 SESeal, for gb38540 seals


class SealUsage(Base):
    """Signatures made per seal per (UTC) day: the row lock on it is what makes the daily cap exact."""

    __tablename__ = "seal_usage"

    seal_id: Mapped[str] = mapped_column(ForeignKey("seals.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class SignatureRecord(Base):
    __tablename__ = "signature_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    seal_id: Mapped[str | None] = mapped_column(ForeignKey("seals.id", ondelete="RESTRICT"), index=True)
    person_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"), index=True)
    cert_serial: Mapped[str] = mapped_column(String(40))
    requester: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    document_kind: Mapped[str | None] = mapped_column(String(32))
    document_sha256: Mapped[str] = mapped_column(String(64), index=True)
    signed_sha256: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(8))
    tsa_serial: Mapped[str | None] = mapped_column(String(40))
    tsa_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class CscAuthorisation(Base):
    """A CSC Signature Activation Data grant (CSC API v2 §11.9). Only the SAD's SHA-256 is stored."""

    __tablename__ = "csc_authorisations"

    sad_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    credential_id: Mapped[str] = mapped_column(String(36), index=True)
    client_id: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[str | None] = mapped_column(String(36))
    hash_alg: Mapped[str] = mapped_column(String(64))
    hashes: Mapped[list[str] | None] = mapped_column(JSON)  # SCAL2: exactly these, base64
    remaining: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignConfirmation(Base):
    """A citizen's pending signature: the document shown to them, bound by hash to their confirmation."""

    __tablename__ = "sign_confirmations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(200))
    document_sha256: Mapped[str] = mapped_column(String(64))
    document_ct: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted; dropped once signed or expired
    placement: Mapped[dict[str, Any]] = mapped_column(JSON)
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, confirmed, signed, expired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignedCopy(Base):
    """A citizen's signed PDF, encrypted, kept so they can download it again from their account until
    `kept_until` (the relying party got it at once; this copy is the person's, deleted with their account)."""

    __tablename__ = "signed_copies"

    record_id: Mapped[str] = mapped_column(ForeignKey("signature_records.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    document_ct: Mapped[bytes] = mapped_column(LargeBinary)
    kept_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
