"""National-format seals (GB/T 38540): an SM2 key, an SM2 certificate from the SM2 issuing CA naming the
organisation and its USCC, and a `SESeal` made and signed by our seal-making authority, binding that
certificate, the seal's name, validity and picture. Stored in the same `seals` table as PAdES seals
(format `gb38540`), so the same policies, daily caps, records and revocation apply unchanged.

Nothing here imports the identity provider: the caller resolves the organisation, validates the policy and
passes an audit callback (`Audit`), called in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import x509 as asn1_x509
from sqlalchemy.orm import Session

from signing import gb38540, names, sm2, sm_pki, sm_status, sm_tsa
from signing.asn1 import der
from signing.models import Seal
from signing.policy import Policy

FORMAT = "gb38540"
KEY_ALG = "sm2"
PICTURE_MM = 40  # an organisation's round official seal is 40-42 mm across

# (session, event fields as idp.audit.Event takes them: action, subject, actor, channel, client, detail)
Audit = Callable[[Session, dict[str, Any]], None]


def seal_label(seal_id: str) -> str:
    return f"seal/{seal_id}"  # as signing.seals: the sealed key opens for this seal only


def subject_for(org_name: str, uscc: str, seal_name: str) -> asn1_x509.Name:
    """As `signing.seals`: UTF8String names bounded in characters (see `signing.names`); the full name is the
    SESeal's (UTF8String without a bound) and the seal record's."""
    label = seal_name[len(org_name) :] if seal_name.startswith(org_name) else ""
    common = names.seal_common_name(org_name, label) if label else names.bounded(seal_name)
    return sm_pki.name(common, organisation=names.bounded(org_name), org_id=f"NTRCN-{uscc}")


def create(
    session: Session,
    authority: sm_pki.SmAuthority,
    master: bytes,
    audit: Audit,
    *,
    org_id: str,
    org_name: str,
    uscc: str,
    seal_type: str,
    seal_name: str,
    policy: Policy,
    image_png: bytes,
    image_source: str,
    validity: timedelta,
    actor: str = "operator",
    channel: str = "cli",
    now: datetime | None = None,
) -> Seal:
    """Key, SM2 certificate, SESeal; recorded in the caller's transaction and audited."""
    now = now or sm_pki.now_utc()
    seal_id = str(uuid.uuid4())
    key = sm2.generate()
    cert = sm_pki.issue_seal_certificate(
        session,
        authority,
        subject=subject_for(org_name, uscc, seal_name),
        spki_der=sm2.spki(key.public_key()),
        validity=validity,
        now=now,
    )
    ses_seal = gb38540.make_seal(
        gb38540.SealSpec(
            es_id=seal_id.replace("-", ""),
            name=seal_name,
            seal_type=gb38540.ORGANISATION,
            certs=[cert.dump()],
            created=now,
            valid_start=cert.not_valid_before,
            valid_end=cert.not_valid_after,
            picture_png=image_png,
            width_mm=PICTURE_MM,
            height_mm=PICTURE_MM,
        ),
        authority.maker.der,
        authority.maker.key,
    )
    seal = Seal(
        id=seal_id,
        org_id=org_id,
        type=seal_type,
        name=seal_name,
        image_png=image_png,
        image_source=image_source,
        cert_serial=sm_pki.serial_hex(cert.serial_number),
        cert_der=cert.dump(),
        key_alg=KEY_ALG,
        key_backend="sealed",
        sealed_key=sm_pki.seal_key(master, key, seal_label(seal_id)),
        status="active",
        valid_from=cert.not_valid_before,
        valid_to=cert.not_valid_after,
        policy=policy.to_dict(),
        created_at=now,
        format=FORMAT,
        ses_seal=ses_seal,
    )
    session.add(seal)
    session.flush()
    audit(
        session,
        {
            "action": "seal.create",
            "subject": seal.id,
            "actor": actor,
            "channel": channel,
            "detail": {"org": uscc, "type": seal_type, "key": f"{KEY_ALG}/sealed", "format": FORMAT},
        },
    )
    return seal


def revoke(
    session: Session,
    authority: sm_pki.SmAuthority,
    seal: Seal,
    reason: str,
    audit: Audit,
    *,
    actor: str = "operator",
    channel: str = "cli",
) -> Seal:
    """Revoke a national-format seal and its SM2 certificate (the SM2 CRL is reissued in this transaction)."""
    if reason not in sm_status.REASONS:
        raise ValueError(f"reason must be one of {', '.join(sm_status.REASONS)}")
    now = sm_pki.now_utc()
    seal.status, seal.revoked_at = "revoked", now
    sm_status.revoke(session, authority, seal.cert_serial, reason, now)
    audit(
        session,
        {"action": "seal.revoke", "subject": seal.id, "actor": actor, "channel": channel, "detail": {"reason": reason}},
    )
    return seal


@dataclass(frozen=True)
class GbSigner:
    """A seal's signing material with the key unsealed: what a process keeps to seal without reparsing."""

    seal_id: str
    key: sm2.PrivateKey
    cert_der: bytes
    seal_der: bytes

    @classmethod
    def of(cls, seal: Seal, master: bytes) -> GbSigner:
        if seal.format != FORMAT or seal.sealed_key is None or seal.ses_seal is None:
            raise ValueError(f"seal {seal.id} is not a national-format (gb38540) seal")
        return cls(seal.id, sm_pki.open_key(master, seal.sealed_key, seal_label(seal.id)), seal.cert_der, seal.ses_seal)


@dataclass(frozen=True)
class SignedValue:
    ses_signature: bytes
    stamp: sm_tsa.SmStamp | None


def sign_hash(
    signer: GbSigner,
    data_hash: bytes,
    property_info: str,
    *,
    tsa: sm_pki.SmIdentity | None,
    tsa_chain: list[asn1_x509.Certificate],
    now: datetime | None = None,
) -> SignedValue:
    """A DER SES_Signature over `data_hash`, with an SM2 time-stamp over the signature value when `tsa` is given."""
    now = now or sm_pki.now_utc()
    tbs = gb38540.make_tbs_sign(signer.seal_der, now, data_hash, property_info)
    signature = sm2.sign(signer.key, der(tbs))
    stamp = sm_tsa.stamp(tsa, tsa_chain, signature, now) if tsa is not None else None
    return SignedValue(gb38540.make_signature(tbs, signer.cert_der, signature, stamp.token if stamp else None), stamp)
