"""A citizen's own electronic signature: fresh loa:3 authentication, and a confirmation bound to the document.

1. The relying party sends the PDF with the person's access token (scope `sign`, acr loa:3, authentication at
   most five minutes old). We keep the document (encrypted) and answer with a confirmation page's address.
2. The person, signed in to us at loa:3, sees the document and its SHA-256 there and confirms. The
   confirmation names that hash: it can be used for that document only, once.
3. The relying party sends the same document again with the confirmation id; we sign it with a one-time
   certificate issued to the person (name in the subject, as a personal signature certificate needs; a
   pseudonymous Yiwang id, never the ID number) and a key that exists only for this signature.

Nothing here logs or raises with the person's name or ID number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session

from keys.schema import new_id, utcnow
from signing import copies, names, pades, pki, seal_image, sealing
from signing.context import SigningContext
from signing.errors import Conflict, Forbidden, NotFound, SigningError
from signing.models import SignatureRecord, SignConfirmation
from signing.ports import AuditEvent, AuditSink, FieldProtection

LOA3 = "urn:yiwang:loa:3"
FRESHNESS_SECONDS = 300
CONFIRMATION_TTL = timedelta(minutes=10)
CERT_VALIDITY = timedelta(hours=1)
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
TABLE = SignConfirmation.__tablename__


@dataclass(frozen=True)
class Grant:
    """Who asks, as proven by their access token (or SSO session for the page)."""

    person_id: str
    client_id: str

    @classmethod
    def of(
        cls, person_id: str | None, client_id: str, acr: str | None, auth_time: int | None, now: float | None = None
    ) -> Grant:
        check_authentication(person_id, acr, auth_time, now)
        assert person_id is not None
        return cls(person_id=person_id, client_id=client_id)


def check_authentication(
    person_id: str | None, acr: str | None, auth_time: int | None, now: float | None = None
) -> None:
    """loa:3, no older than five minutes, and a person (not a client acting for itself)."""
    if person_id is None:
        raise Forbidden("a citizen's signature needs that person's own access token")
    if acr != LOA3:
        raise Forbidden("a citizen's signature needs an authentication at urn:yiwang:loa:3")
    age = (now or time.time()) - (auth_time or 0)
    if auth_time is None or not -60 <= age <= FRESHNESS_SECONDS:
        raise Forbidden(f"the authentication is older than {FRESHNESS_SECONDS // 60} minutes: authenticate again")


@dataclass(frozen=True)
class Pending:
    id: str
    url: str
    document_sha256: str
    expires_at: datetime


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _encrypt(protector: FieldProtection, row_id: str, document: bytes) -> bytes:
    return protector.encrypt(TABLE, "document_ct", row_id, base64.b64encode(document).decode("ascii"))


def _decrypt(protector: FieldProtection, row: SignConfirmation) -> bytes:
    return base64.b64decode(protector.decrypt(TABLE, "document_ct", row.id, row.document_ct))


def start(ctx: SigningContext, grant: Grant, document: bytes, placement: pades.Placement) -> Pending:
    pades.open_pdf(document)  # refuse what cannot be signed before asking anyone to confirm it
    secret = secrets.token_urlsafe(24)
    row_id = new_id()
    digest = hashlib.sha256(document).hexdigest()

    def work(session: Session) -> SignConfirmation:
        row = SignConfirmation(
            id=row_id,
            person_id=grant.person_id,
            client_id=grant.client_id,
            document_sha256=digest,
            document_ct=_encrypt(ctx.services.protection, row_id, document),
            placement=asdict(placement),
            code_hash=_secret_hash(secret),
            status="pending",
            expires_at=utcnow() + CONFIRMATION_TTL,
        )
        session.add(row)
        session.flush()
        ctx.services.audit(
            session,
            AuditEvent(
                action="sign.request",
                subject=row.id,
                actor=grant.person_id,
                channel="api",
                client=grant.client_id,
                detail={"document_sha256": digest},
            ),
        )
        return row

    row = ctx.run(work)
    url = f"{ctx.services.issuer}/signing/v1/confirm/{row.id}?k={secret}"
    return Pending(id=row.id, url=url, document_sha256=digest, expires_at=row.expires_at)


def _load(session: Session, confirmation_id: str, *, lock: bool = False) -> SignConfirmation:
    row = session.get(SignConfirmation, confirmation_id[:36], with_for_update=lock)
    if row is None:
        raise NotFound("no such signature confirmation")
    return row


def for_person(session: Session, confirmation_id: str, secret: str, person_id: str) -> SignConfirmation:
    """The confirmation as its page shows it: the link's secret and the signed-in person must both match."""
    row = _load(session, confirmation_id)
    if not hmac.compare_digest(row.code_hash, _secret_hash(secret or "")):
        raise NotFound("no such signature confirmation")
    if row.person_id != person_id:
        raise Forbidden("this document was sent to someone else to sign")
    if row.expires_at <= utcnow():
        raise Forbidden("this signature request has expired")
    return row


def document_for(session: Session, protector: FieldProtection, row: SignConfirmation) -> bytes:
    if row.status not in ("pending", "confirmed"):
        raise Conflict("this signature request is closed")
    return _decrypt(protector, row)


def confirm(
    session: Session, audit: AuditSink, confirmation_id: str, secret: str, person_id: str, document_sha256: str
) -> SignConfirmation:
    """The person's yes, for the document with exactly this hash (the one the page showed)."""
    row = for_person(session, confirmation_id, secret, person_id)
    if row.status != "pending":
        raise Conflict("this signature request was already answered")
    if not hmac.compare_digest(row.document_sha256, document_sha256.strip().lower()):
        raise Forbidden("the confirmation is for a different document")
    row.status, row.confirmed_at = "confirmed", utcnow()
    session.flush()
    audit(
        session,
        AuditEvent(
            action="sign.confirm",
            subject=row.id,
            actor=person_id,
            channel="web",
            client=row.client_id,
            detail={"document_sha256": row.document_sha256},
        ),
    )
    return row


def _check_usable(row: SignConfirmation, grant: Grant, digest: str) -> None:
    if row.person_id != grant.person_id or row.client_id != grant.client_id:
        raise Forbidden("this confirmation belongs to another person or client")
    if row.status == "pending":
        raise Forbidden("the person has not confirmed this document yet")
    if row.status != "confirmed":
        raise Conflict("this confirmation was already used")
    if row.expires_at <= utcnow():
        raise Forbidden("this signature request has expired")
    if not hmac.compare_digest(row.document_sha256, digest):
        raise Forbidden("the document differs from the one the person confirmed")


def _personal_material(ctx: SigningContext, person_id: str, name: str) -> tuple[pades.SealMaterial, str]:
    """A key for this one signature and a short-lived certificate for it (recorded for CRL/OCSP by serial)."""
    key = pki.new_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"YW-{person_id}"),
            names.utf8_attribute(NameOID.COMMON_NAME, names.bounded(name)),
        ]
    )
    with ctx.services.transaction() as session:
        cert = pki.issue(
            session,
            ctx.authority,
            subject=subject,
            public_key=key.public_key(),
            kind="personal",
            validity=CERT_VALIDITY,
            extensions=[(pki.key_usage(sign=True, non_repudiation=True), True)],
        )
    der = serialization.Encoding.DER
    cert_asn1 = asn1_x509.Certificate.load(cert.public_bytes(der))
    chain = [asn1_x509.Certificate.load(c.public_bytes(der)) for c in ctx.authority.chain()]
    material = pades.SealMaterial(
        signer=pades.LoadedKeySigner(key, cert_asn1, chain),
        cert=cert_asn1,
        chain=chain,
        image=pades.StampImage(seal_image.draw_signature(name)),
        name=name,
    )
    return material, pki.serial_hex(cert.serial_number)


def complete(ctx: SigningContext, grant: Grant, confirmation_id: str, document: bytes) -> sealing.SealResult:
    digest = hashlib.sha256(document).hexdigest()
    refusal = AuditEvent(
        action="sign.sign",
        subject=confirmation_id[:36],
        actor=grant.person_id,
        channel="api",
        client=grant.client_id,
        detail={"document_sha256": digest},
    )

    def check(session: Session) -> tuple[pades.Placement, str]:
        row = _load(session, confirmation_id)
        _check_usable(row, grant, digest)
        name = ctx.services.directory.person_name(session, grant.person_id)  # the one place a name is in clear
        if not name:
            raise Forbidden("the person has no registered name to sign with")
        return pades.Placement(**row.placement), name

    placement, name = ctx.run(check, refusal=refusal)
    material, serial = _personal_material(ctx, grant.person_id, name)
    record_id = new_id()
    try:
        signed = pades.seal_pdf(
            document,
            material,
            placement,
            level=pades.B_LT,
            timestamper=sealing.timestamper(ctx),
            revocation=sealing.revocation_source(ctx, int(serial, 16)),
            field_name=f"Signature-{record_id[:8]}",
        )
    except SigningError as exc:
        sealing.audit_refusal(ctx, refusal, exc)
        raise

    def commit(session: Session) -> sealing.SealResult:
        row = _load(session, confirmation_id, lock=True)
        _check_usable(row, grant, digest)  # again: single use, even against a concurrent request
        row.status, row.document_ct = "signed", b""
        now = utcnow()
        session.add(
            SignatureRecord(
                id=record_id,
                person_id=grant.person_id,
                cert_serial=serial,
                requester=grant.client_id,
                channel="api",
                document_kind="citizen",
                document_sha256=signed.document_sha256,
                signed_sha256=signed.signed_sha256,
                level=signed.level,
                tsa_serial=format(signed.tsa_serial, "x") if signed.tsa_serial is not None else None,
                tsa_time=signed.tsa_time,
                signed_at=now,
            )
        )
        session.flush()
        copies.keep(session, ctx.services.protection, record_id, grant.person_id, signed.data)
        ctx.services.audit(
            session,
            AuditEvent(
                action="sign.sign",
                subject=row.id,
                actor=grant.person_id,
                channel="api",
                client=grant.client_id,
                detail={"record": record_id, "document_sha256": signed.document_sha256, "cert": serial},
            ),
        )
        return sealing.SealResult(record_id=record_id, signed=signed)

    return ctx.run(commit, refusal=refusal)
