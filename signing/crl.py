"""Certificate revocation lists (RFC 5280 §5): one per CA, reissued on every revocation and before it goes stale.

The current CRL is the highest-numbered row for its issuer. Numbers increase monotonically (§5.2.3); two nodes
reissuing at once collide on the primary key, and the loser simply serves the winner's CRL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keys.schema import utcnow
from signing.models import Crl, IssuedCertificate
from signing.pki import ISSUING, ROOT, Authority, Identity

LIFETIME = timedelta(days=7)
# Reissue when less than this is left, so a validator never sees a CRL whose nextUpdate is past.
REFRESH_MARGIN = timedelta(days=3)

REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
}


def _issuer(authority: Authority, role: str) -> Identity:
    return {ROOT: authority.root, ISSUING: authority.issuing}[role]


def build(
    session: Session, authority: Authority, role: str, number: int, now: datetime
) -> x509.CertificateRevocationList:
    issuer = _issuer(authority, role)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now)
        .next_update(now + LIFETIME)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
    )
    revoked = session.scalars(
        select(IssuedCertificate).where(IssuedCertificate.issuer_role == role, IssuedCertificate.status == "revoked")
    )
    for row in revoked:
        assert row.revoked_at is not None
        entry = x509.RevokedCertificateBuilder().serial_number(int(row.serial, 16)).revocation_date(row.revoked_at)
        reason = REASONS.get(row.revocation_reason or "unspecified", x509.ReasonFlags.unspecified)
        if reason is not x509.ReasonFlags.unspecified:  # §5.3.1: omit rather than say "unspecified"
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(issuer.key, hashes.SHA256())


def reissue(session: Session, authority: Authority, role: str = ISSUING, now: datetime | None = None) -> bytes:
    """Sign a new CRL in the caller's transaction (so a revocation and its CRL commit together)."""
    now = now or utcnow()
    last = session.scalar(select(Crl.number).where(Crl.issuer_role == role).order_by(Crl.number.desc()).limit(1))
    number = (last or 0) + 1
    der = build(session, authority, role, number, now).public_bytes(serialization.Encoding.DER)
    session.add(Crl(issuer_role=role, number=number, der=der, this_update=now, next_update=now + LIFETIME))
    session.flush()
    return der


def current(session: Session, authority: Authority, role: str = ISSUING, now: datetime | None = None) -> bytes:
    """The current CRL for `role`, reissued first if there is none or it is about to go stale."""
    now = now or utcnow()
    row = session.scalars(select(Crl).where(Crl.issuer_role == role).order_by(Crl.number.desc()).limit(1)).first()
    if row is not None and row.next_update - now > REFRESH_MARGIN:
        return row.der
    try:
        with session.begin_nested():
            return reissue(session, authority, role, now)
    except IntegrityError:
        latest = session.scalars(select(Crl).where(Crl.issuer_role == role).order_by(Crl.number.desc()).limit(1)).one()
        return latest.der


def revoke(
    session: Session, authority: Authority, serial: str, reason: str = "unspecified", now: datetime | None = None
) -> IssuedCertificate:
    """Mark a certificate revoked and reissue its issuer's CRL, in the caller's transaction (RFC 5280 §3.3).

    OCSP reads the same row, so both answer "revoked" as soon as this commits.
    """
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}")
    now = now or utcnow()
    row = session.get(IssuedCertificate, serial, with_for_update=True)
    if row is None:
        raise LookupError(f"no certificate with serial {serial}")
    if row.status != "revoked":
        row.status, row.revoked_at, row.revocation_reason = "revoked", now, reason
        session.flush()
        reissue(session, authority, row.issuer_role, now)
    return row
