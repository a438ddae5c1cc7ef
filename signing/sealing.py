"""Sealing a PDF with an organisation's seal: policy, signature, record and audit, all or nothing.

1. A read-only pre-check refuses early (unknown or revoked seal, a policy that forbids the requester).
2. The document is signed outside any transaction (tens of milliseconds; no database lock held meanwhile).
3. One transaction re-checks the seal and its policy (the daily cap is counted here, exactly), writes the
   signature record and the audit event. If anything refuses now, the signed bytes are dropped: nothing is
   returned and nothing claims success.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.signers.pdf_cms import Signer
from sqlalchemy import select
from sqlalchemy.orm import Session

from keys.schema import new_id, utcnow
from signing import crl, ocsp, pades, pkcs11_keys, pki
from signing.context import SigningContext
from signing.errors import Forbidden, SigningError
from signing.models import Seal, SignatureRecord
from signing.policy import CHECKS, Policy, Request, Requester, authorise, check_daily_cap
from signing.ports import AuditEvent, Directory
from signing.seals import PKCS11, get, seal_label
from signing.tsa import InProcessTimeStamper

CACHE_SECONDS = 300.0


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def material(ctx: SigningContext, seal: Seal) -> pades.SealMaterial:
    """The seal's signer, chain and stamp image, prepared once per process (a seal's key never changes)."""
    cached = ctx.signers.get(seal.id)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    cert = asn1_x509.Certificate.load(seal.cert_der)
    chain = [_asn1(ctx.authority.issuing.cert), _asn1(ctx.authority.root.cert)]
    signer: Signer
    if seal.key_backend == PKCS11:
        signer = pkcs11_keys.signer(
            pkcs11_keys.configured(ctx.services.pkcs11), seal.pkcs11_label or seal.id, cert, chain
        )
    else:
        assert seal.sealed_key is not None
        key = pki.open_private_key(ctx.services.master, seal.sealed_key, seal_label(seal.id))
        signer = pades.LoadedKeySigner(key, cert, chain)
    made = pades.SealMaterial(
        signer=signer, cert=cert, chain=chain, image=pades.StampImage(seal.image_png), name=seal.name
    )
    with ctx.lock:
        ctx.signers[seal.id] = made
    return made


def _cached(ctx: SigningContext, key: str, make: Callable[[], bytes]) -> bytes:
    now = time.monotonic()
    hit = ctx.blobs.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    blob = make()
    with ctx.lock:
        ctx.blobs[key] = (now + CACHE_SECONDS, blob)
    return blob


def _ocsp_der(ctx: SigningContext, serial: int) -> bytes:
    with ctx.services.transaction() as session:
        response = ocsp.respond_for(session, ctx.authority, issuer=ctx.authority.issuing, serial=serial)
    return response.public_bytes(serialization.Encoding.DER)


def _root_crl(ctx: SigningContext) -> bytes:
    with ctx.services.transaction() as session:
        return crl.current(session, ctx.authority, pki.ROOT)


def revocation_source(ctx: SigningContext, cert_serial: int) -> Callable[[], pades.Revocation]:
    """B-LT data for a certificate of ours: the chain, OCSP for it and for the TSA, and the root's CRL.

    Responses are reused for a few minutes: a seal's status is re-checked in the recording transaction, so a
    cached "good" can never end up in a signature that a revocation preceded.
    """
    a = ctx.authority

    def build() -> pades.Revocation:
        der = serialization.Encoding.DER
        return pades.Revocation(
            certs=[
                a.issuing.cert.public_bytes(der),
                a.root.cert.public_bytes(der),
                a.ocsp.cert.public_bytes(der),
                a.tsa.cert.public_bytes(der),
            ],
            ocsps=[
                _cached(ctx, f"ocsp:{cert_serial}", lambda: _ocsp_der(ctx, cert_serial)),
                _cached(ctx, f"ocsp:{a.tsa.cert.serial_number}", lambda: _ocsp_der(ctx, a.tsa.cert.serial_number)),
            ],
            crls=[_cached(ctx, "crl:root", lambda: _root_crl(ctx))],
        )

    return build


def timestamper(ctx: SigningContext) -> InProcessTimeStamper:
    return InProcessTimeStamper(ctx.tsa)


@dataclass(frozen=True)
class SealResult:
    record_id: str
    signed: pades.SignedPdf


def audit_refusal(ctx: SigningContext, event: AuditEvent, exc: SigningError) -> None:
    """Record a refusal that happened outside `SigningContext.run` (e.g. while reading the document)."""
    ctx.audit_refusal(event, exc)


def _policy_request(
    directory: Directory, seal: Seal, requester: Requester, document_kind: str | None, now: datetime
) -> Request:
    return Request(
        seal=seal,
        policy=Policy.from_dict(seal.policy),
        requester=requester,
        document_kind=document_kind,
        now=now,
        directory=directory,
    )


def precheck(
    session: Session, directory: Directory, seal_id: str, requester: Requester, document_kind: str | None
) -> Seal:
    """Every policy check but the cap, without writing anything: refuse before spending a signature."""
    seal = get(session, seal_id)
    if seal.format != "pades":  # an SM2 key cannot make a PAdES signature
        raise Forbidden(f"seal {seal.id} is a national-format (gb38540) seal: it seals OFD documents")
    req = _policy_request(directory, seal, requester, document_kind, utcnow())
    for check in CHECKS:
        if check is not check_daily_cap:
            check(session, req)
    return seal


def seal_document(
    ctx: SigningContext,
    seal_id: str,
    document: bytes,
    placement: pades.Placement,
    *,
    requester: Requester,
    document_kind: str | None = None,
    level: str = pades.B_LT,
) -> SealResult:
    refusal = AuditEvent(
        action="seal.sign",
        subject=seal_id.strip()[:36],
        actor=requester.name,
        channel=requester.channel,
        client=requester.client_id,
        detail={"kind": document_kind, "level": level},
    )
    directory = ctx.services.directory
    seal = ctx.run(lambda s: precheck(s, directory, seal_id, requester, document_kind), refusal=refusal)
    mat = material(ctx, seal)
    record_id = new_id()
    try:
        signed = pades.seal_pdf(
            document,
            mat,
            placement,
            level=level,
            timestamper=timestamper(ctx) if level != pades.B_B else None,
            revocation=revocation_source(ctx, int(seal.cert_serial, 16)) if level == pades.B_LT else None,
            field_name=f"Seal-{record_id[:8]}",
        )
    except SigningError as exc:  # bad input (not a PDF, no such page...): audited like a policy refusal
        audit_refusal(ctx, refusal, exc)
        raise

    def commit(session: Session) -> SealResult:
        current = get(session, seal_id)
        now = utcnow()
        authorise(session, _policy_request(directory, current, requester, document_kind, now))
        record = SignatureRecord(
            id=record_id,
            org_id=current.org_id,
            seal_id=current.id,
            person_id=requester.person_id,
            cert_serial=current.cert_serial,
            requester=requester.name,
            channel=requester.channel,
            document_kind=document_kind,
            document_sha256=signed.document_sha256,
            signed_sha256=signed.signed_sha256,
            level=signed.level,
            tsa_serial=format(signed.tsa_serial, "x") if signed.tsa_serial is not None else None,
            tsa_time=signed.tsa_time,
            signed_at=now,
        )
        session.add(record)
        session.flush()
        ctx.services.audit(
            session,
            AuditEvent(
                action="seal.sign",
                subject=current.id,
                actor=requester.name,
                channel=requester.channel,
                client=requester.client_id,
                detail={
                    "record": record.id,
                    "document_sha256": signed.document_sha256,
                    "level": signed.level,
                    "kind": document_kind,
                    "tsa_serial": record.tsa_serial,
                },
            ),
        )
        return SealResult(record_id=record.id, signed=signed)

    return ctx.run(commit, refusal=refusal)


def records_for_org(
    session: Session, org_id: str, limit: int = 100, before: datetime | None = None
) -> list[SignatureRecord]:
    query = select(SignatureRecord).where(SignatureRecord.org_id == org_id)
    if before is not None:
        query = query.where(SignatureRecord.signed_at < before)
    return list(session.scalars(query.order_by(SignatureRecord.signed_at.desc()).limit(limit)))


def record_dict(record: SignatureRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "seal_id": record.seal_id,
        "person_id": record.person_id,
        "cert_serial": record.cert_serial,
        "requester": record.requester,
        "channel": record.channel,
        "document_kind": record.document_kind,
        "document_sha256": record.document_sha256,
        "signed_sha256": record.signed_sha256,
        "level": record.level,
        "tsa_serial": record.tsa_serial,
        "tsa_time": record.tsa_time.isoformat() if record.tsa_time else None,
        "signed_at": record.signed_at.isoformat(),
    }
