"""The citizen's own copy of what they signed: kept encrypted for `KEEP`, downloadable by that person only.

The signed PDF names the signer (certificate subject and visible signature), so it is personal data: stored
only as ciphertext bound to its row, never shown to anyone but its signer, and gone once it expires or the
person closes their account.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from keys.schema import utcnow
from signing.errors import Forbidden, NotFound
from signing.models import SignatureRecord, SignConfirmation, SignedCopy
from signing.ports import FieldProtection

KEEP = timedelta(days=30)
TABLE = SignedCopy.__tablename__


def keep(session: Session, protection: FieldProtection, record_id: str, person_id: str, pdf: bytes) -> None:
    text = base64.b64encode(pdf).decode("ascii")
    session.add(
        SignedCopy(
            record_id=record_id,
            person_id=person_id,
            document_ct=protection.encrypt(TABLE, "document_ct", record_id, text),
            kept_until=utcnow() + KEEP,
        )
    )


@dataclass(frozen=True)
class MySignature:
    record_id: str
    client_id: str
    document_sha256: str
    level: str
    signed_at: datetime
    kept_until: datetime | None  # None: no copy is kept (any more)


@dataclass(frozen=True)
class MyRequest:
    id: str
    client_id: str
    document_sha256: str
    status: str
    created_at: datetime
    expires_at: datetime


def signatures_of(session: Session, person_id: str) -> list[MySignature]:
    now = utcnow()
    rows = session.execute(
        select(SignatureRecord, SignedCopy.kept_until)
        .outerjoin(SignedCopy, SignedCopy.record_id == SignatureRecord.id)
        .where(SignatureRecord.person_id == person_id)
        .order_by(SignatureRecord.signed_at.desc())
    ).all()
    return [
        MySignature(r.id, r.requester, r.document_sha256, r.level, r.signed_at, kept if kept and kept > now else None)
        for r, kept in rows
    ]


def requests_of(session: Session, person_id: str) -> list[MyRequest]:
    rows = session.scalars(
        select(SignConfirmation)
        .where(SignConfirmation.person_id == person_id)
        .order_by(SignConfirmation.created_at.desc())
    )
    return [MyRequest(r.id, r.client_id, r.document_sha256, r.status, r.created_at, r.expires_at) for r in rows]


def download(session: Session, protection: FieldProtection, record_id: str, person_id: str) -> bytes:
    """The signed PDF, for its signer only; refused for anyone else, and once it is no longer kept."""
    row = session.get(SignedCopy, record_id[:36])
    if row is None or row.kept_until <= utcnow():
        raise NotFound("no signed copy is kept for this signature")
    if row.person_id != person_id:
        raise Forbidden("this signature is someone else's")
    return base64.b64decode(protection.decrypt(TABLE, "document_ct", row.record_id, row.document_ct))
