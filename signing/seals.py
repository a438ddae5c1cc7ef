"""Organisation seals: each a key pair, an X.509 certificate naming the organisation and its USCC, an image,
a validity period, a status and a policy. Every function works in the caller's transaction and audits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from keys.schema import new_id, utcnow
from signing import crl, names, pki, seal_image
from signing.context import SigningContext
from signing.errors import Conflict, InvalidInput, NotFound
from signing.models import Seal
from signing.policy import MEMBER_ROLES, Policy
from signing.ports import AuditEvent, Directory, Organisation, Services

# Seal types and the label drawn under the star (and put in the certificate's common name).
TYPES = {"official": "公章", "contract": "合同专用章", "finance": "财务专用章", "legal-rep": "法定代表人章"}
KEY_ALGS = ("ec-p256", "rsa-2048")
DEFAULT_VALIDITY = timedelta(days=3 * 365)
SEALED, PKCS11 = "sealed", "pkcs11"


@dataclass(frozen=True)
class SealView:
    id: str
    org_uscc: str
    org_name: str
    type: str
    name: str
    status: str
    valid_from: datetime
    valid_to: datetime
    cert_serial: str
    key_alg: str
    key_backend: str
    image_source: str
    policy: dict[str, Any]
    created_at: datetime
    revoked_at: datetime | None
    certificate_pem: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "org": {"uscc": self.org_uscc, "name": self.org_name},
            "type": self.type,
            "name": self.name,
            "status": self.status,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
            "cert_serial": self.cert_serial,
            "key_alg": self.key_alg,
            "key_backend": self.key_backend,
            "image_source": self.image_source,
            "policy": self.policy,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "certificate": self.certificate_pem,
        }


@dataclass(frozen=True)
class KeyMaterial:
    """What a key backend hands back for a new seal: the public key and how to find the private one again."""

    public_key: pki.PublicKey
    backend: str
    sealed_key: bytes | None = None
    pkcs11_label: str | None = None


def new_sealed_key(master: bytes, seal_id: str, key_alg: str) -> KeyMaterial:
    """A software key, sealed under the master key for this seal alone."""
    key: pki.PrivateKey
    if key_alg == "ec-p256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif key_alg == "rsa-2048":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise InvalidInput(f"key algorithm must be one of {', '.join(KEY_ALGS)}")
    return KeyMaterial(key.public_key(), SEALED, sealed_key=pki.seal_private_key(master, key, seal_label(seal_id)))


def seal_label(seal_id: str) -> str:
    return f"seal/{seal_id}"


def subject_for(org: Organisation, seal_type: str) -> x509.Name:
    """C, O, organizationIdentifier, CN; names bounded in characters (see `signing.names`)."""
    return names.seal_subject(org.name, f"NTRCN-{org.uscc}", names.seal_common_name(org.name, TYPES[seal_type]))


def member_ids(session: Session, directory: Directory, org: Organisation, id_numbers: list[str]) -> frozenset[str]:
    """Person ids for the given ID numbers, each required to hold a seal role in `org`."""
    found = set()
    for number in id_numbers:
        person_id = directory.person_by_id_number(session, number)
        if person_id is None:
            raise NotFound("a policy member is not a registered person")
        if not directory.member_roles(session, org.id, person_id) & frozenset(MEMBER_ROLES):
            raise InvalidInput(
                f"a policy member must hold one of the roles {', '.join(MEMBER_ROLES)} in the organisation"
            )
        found.add(person_id)
    return frozenset(found)


def check_policy(policy: Policy) -> Policy:
    if policy.daily_cap is not None and policy.daily_cap < 1:
        raise InvalidInput("the daily cap must be at least 1")
    for kind in policy.document_kinds:
        if not kind or len(kind) > 32 or not kind.replace("-", "").replace("_", "").isalnum():
            raise InvalidInput("document kinds are short words (letters, digits, - and _)")
    for client in policy.clients:
        if not client or len(client) > 200:
            raise InvalidInput("a client id must be 1 to 200 characters")
    return policy


def create(
    session: Session,
    ctx: SigningContext,
    *,
    uscc: str,
    seal_type: str,
    policy: Policy,
    image_png: bytes | None = None,
    key_alg: str = "ec-p256",
    validity: timedelta = DEFAULT_VALIDITY,
    key_material: KeyMaterial | None = None,
    seal_id: str | None = None,
    actor: str = "operator",
    channel: str = "cli",
) -> Seal:
    """Make a seal: key (software-sealed unless `key_material` comes from an HSM), certificate, image."""
    if seal_type not in TYPES:
        raise InvalidInput(f"seal type must be one of {', '.join(TYPES)}")
    if key_alg not in KEY_ALGS:
        raise InvalidInput(f"key algorithm must be one of {', '.join(KEY_ALGS)}")
    check_policy(policy)
    org = ctx.services.directory.organisation(session, uscc)
    name = f"{org.name}{TYPES[seal_type]}"
    image, source = (seal_image.clean_upload(image_png), "uploaded") if image_png else (None, "drawn")
    if image is None:
        image = seal_image.draw_seal(org.name, TYPES[seal_type])
    seal_id = seal_id or new_id()
    material = key_material or new_sealed_key(ctx.services.master, seal_id, key_alg)
    now = utcnow()
    cert = pki.issue(
        session,
        ctx.authority,
        subject=subject_for(org, seal_type),
        public_key=material.public_key,
        kind="seal",
        validity=validity,
        now=now,
        extensions=[(pki.key_usage(sign=True, non_repudiation=True), True)],
    )
    seal = Seal(
        id=seal_id,
        org_id=org.id,
        type=seal_type,
        name=name,
        image_png=image,
        image_source=source,
        cert_serial=pki.serial_hex(cert.serial_number),
        cert_der=cert.public_bytes(serialization.Encoding.DER),
        key_alg=key_alg,
        key_backend=material.backend,
        sealed_key=material.sealed_key,
        pkcs11_label=material.pkcs11_label,
        status="active",
        valid_from=cert.not_valid_before_utc,
        valid_to=cert.not_valid_after_utc,
        policy=policy.to_dict(),
        created_at=now,
    )
    session.add(seal)
    session.flush()
    ctx.services.audit(
        session,
        AuditEvent(
            action="seal.create",
            subject=seal.id,
            actor=actor,
            channel=channel,
            detail={"org": org.uscc, "type": seal_type, "key": f"{key_alg}/{material.backend}", "image": source},
        ),
    )
    return seal


def get(session: Session, seal_id: str, *, lock: bool = False) -> Seal:
    seal = session.get(Seal, seal_id.strip(), with_for_update=lock) if len(seal_id.strip()) <= 36 else None
    if seal is None:
        raise NotFound(f"no seal {seal_id.strip()[:36]}")
    return seal


def list_seals(session: Session, directory: Directory, uscc: str | None = None) -> list[Seal]:
    query = select(Seal).order_by(Seal.created_at)
    if uscc:
        query = query.where(Seal.org_id == directory.organisation(session, uscc).id)
    return list(session.scalars(query))


def view(session: Session, directory: Directory, seal: Seal) -> SealView:
    org = directory.organisation_by_id(session, seal.org_id)
    cert = x509.load_der_x509_certificate(seal.cert_der)
    return SealView(
        id=seal.id,
        org_uscc=org.uscc,
        org_name=org.name,
        type=seal.type,
        name=seal.name,
        status=seal.status,
        valid_from=seal.valid_from,
        valid_to=seal.valid_to,
        cert_serial=seal.cert_serial,
        key_alg=seal.key_alg,
        key_backend=seal.key_backend,
        image_source=seal.image_source,
        policy=seal.policy,
        created_at=seal.created_at,
        revoked_at=seal.revoked_at,
        certificate_pem=pki.pem([cert]),
    )


def set_policy(
    session: Session, services: Services, seal_id: str, policy: Policy, *, actor: str = "operator", channel: str = "cli"
) -> Seal:
    seal = get(session, seal_id, lock=True)
    seal.policy = check_policy(policy).to_dict()
    session.flush()
    services.audit(
        session,
        AuditEvent(
            action="seal.policy",
            subject=seal.id,
            actor=actor,
            channel=channel,
            detail={"policy": {k: v for k, v in seal.policy.items() if k != "members"}, "members": len(policy.members)},
        ),
    )
    return seal


def revoke(
    session: Session,
    ctx: SigningContext,
    seal_id: str,
    reason: str = "cessation_of_operation",
    *,
    actor: str = "operator",
    channel: str = "cli",
) -> Seal:
    """Revoke the seal and its certificate: CRL reissued and OCSP answering "revoked" when this commits."""
    seal = get(session, seal_id, lock=True)
    if seal.status == "revoked":
        raise Conflict(f"seal {seal.id} is already revoked")
    if reason not in crl.REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(crl.REASONS)}")
    now = utcnow()
    seal.status, seal.revoked_at = "revoked", now
    crl.revoke(session, ctx.authority, seal.cert_serial, reason, now)
    ctx.services.audit(
        session,
        AuditEvent(action="seal.revoke", subject=seal.id, actor=actor, channel=channel, detail={"reason": reason}),
    )
    return seal
