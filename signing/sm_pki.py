"""The national-algorithm PKI: an SM2 root CA, an SM2 issuing CA, an SM2 time-stamping unit and an SM2 OCSP
signer, next to the ECDSA/RSA hierarchy of `signing.pki`, with certificates signed SM3withSM2
(OID 1.2.156.10197.1.501, GM/T 0015 profile: id-ecPublicKey with the SM2 curve OID in the key info).

pyca/cryptography cannot sign with SM2, so certificates are assembled with asn1crypto and signed by
`signing.sm2`. The same tables hold them as the other hierarchy (roles `sm2-*`), so CRLs and OCSP answer from
the one `pki_certificates` table. Everything works in the caller's transaction; the caller passes the master
key that seals private keys. Extension profiles follow `signing.pki` (RFC 5280, RFC 3161 §2.3, RFC 6960).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from sqlalchemy import select
from sqlalchemy.orm import Session

import keys
from signing import sm2
from signing.asn1 import der
from signing.models import IssuedCertificate, PkiEntity

ROOT, ISSUING, TSA, OCSP, MAKER = "sm2-root", "sm2-issuing", "sm2-tsa", "sm2-ocsp", "sm2-maker"
ROLES = (ROOT, ISSUING, TSA, OCSP, MAKER)
_VALIDITY = {ROOT: 20 * 365, ISSUING: 10 * 365, TSA: 5 * 365, OCSP: 2 * 365, MAKER: 5 * 365}
_NAMES = {
    ROOT: "Yiwang SM2 Root CA",
    ISSUING: "Yiwang SM2 Issuing CA",
    TSA: "Yiwang SM2 Time-Stamping Authority",
    OCSP: "Yiwang SM2 OCSP Responder",
    MAKER: "Yiwang Seal-Making Authority",  # 制章人: signs every GB/T 38540 SESeal we make
}
_BACKDATE = timedelta(minutes=5)
SM2_SM3 = {"algorithm": sm2.SM2_SM3_OID}


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SmUrls:
    base: str

    @property
    def crl(self) -> str:
        return f"{self.base}/pki/sm2/crl"

    @property
    def root_crl(self) -> str:
        return f"{self.base}/pki/sm2/root.crl"

    @property
    def ocsp(self) -> str:
        return f"{self.base}/pki/sm2/ocsp"

    @property
    def issuing_cert(self) -> str:
        return f"{self.base}/pki/sm2/issuing-ca.cer"

    @property
    def root_cert(self) -> str:
        return f"{self.base}/pki/sm2/root-ca.cer"


@dataclass(frozen=True)
class SmIdentity:
    role: str
    cert: asn1_x509.Certificate
    key: sm2.PrivateKey

    @property
    def der(self) -> bytes:
        return bytes(self.cert.dump())


@dataclass(frozen=True)
class SmAuthority:
    root: SmIdentity
    issuing: SmIdentity
    tsa: SmIdentity
    ocsp: SmIdentity
    maker: SmIdentity
    urls: SmUrls

    def by_role(self, role: str) -> SmIdentity:
        return {ROOT: self.root, ISSUING: self.issuing, TSA: self.tsa, OCSP: self.ocsp, MAKER: self.maker}[role]


def key_label(owner: str) -> str:
    return f"pki-key/{owner}"  # the same label scheme as signing.pki: a key sealed for one owner opens for no other


def seal_key(master: bytes, key: sm2.PrivateKey, owner: str) -> bytes:
    return keys.wrap_key(master, sm2.private_der(key), key_label(owner))


def open_key(master: bytes, sealed: bytes, owner: str) -> sm2.PrivateKey:
    return sm2.load_private(keys.unwrap_key(master, sealed, key_label(owner)))


def serial_hex(serial: int) -> str:
    return format(serial, "x")


def name(common_name: str, organisation: str = "Yiwang", org_id: str | None = None) -> asn1_x509.Name:
    fields: dict[str, str] = {"country_name": "CN", "organization_name": organisation}
    if org_id is not None:
        fields["2.5.4.97"] = org_id  # organizationIdentifier, NTRCN-<USCC> as signing.seals does
    fields["common_name"] = common_name
    return asn1_x509.Name.build(fields, use_printable=False)


def _time(value: datetime) -> asn1_x509.Time:
    value = value.astimezone(UTC).replace(microsecond=0)
    # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime after.
    return asn1_x509.Time({"utc_time" if value.year < 2050 else "general_time": value})


def key_id(spki_der: bytes) -> bytes:
    """RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING."""
    info = asn1_keys.PublicKeyInfo.load(spki_der)
    return hashlib.sha1(bytes(info["public_key"].contents[1:])).digest()


def sign_tbs(key: sm2.PrivateKey, tbs: Any) -> bytes:
    return sm2.sign(key, der(tbs))


def build_certificate(
    *,
    subject: asn1_x509.Name,
    spki_der: bytes,
    issuer: SmIdentity | None,
    signing_key: sm2.PrivateKey,
    not_before: datetime,
    not_after: datetime,
    extensions: Sequence[tuple[str, Any, bool]],
) -> asn1_x509.Certificate:
    """An SM3withSM2 certificate; `issuer=None` makes it self-signed. SKI always, AKI whenever there is an issuer."""
    exts: list[dict[str, Any]] = [
        {"extn_id": "key_identifier", "critical": False, "extn_value": key_id(spki_der)},
    ]
    if issuer is not None:
        exts.append(
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": issuer.cert.key_identifier},
            }
        )
    exts += [{"extn_id": i, "critical": c, "extn_value": v} for i, v, c in extensions]
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": secrets.randbits(159) | 1 << 158,
            "signature": SM2_SM3,
            "issuer": issuer.cert.subject if issuer else subject,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": subject,
            "subject_public_key_info": asn1_keys.PublicKeyInfo.load(spki_der),
            "extensions": exts,
        }
    )
    signature = sign_tbs(signing_key, tbs)
    cert = asn1_x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": SM2_SM3, "signature_value": signature})
    return asn1_x509.Certificate.load(der(cert))


def key_usage(*names: str) -> set[str]:
    return set(names)


def _uri(url: str) -> asn1_x509.GeneralName:
    return asn1_x509.GeneralName(name="uniform_resource_identifier", value=url)


def _access(method: str, url: str) -> dict[str, Any]:
    return {"access_method": method, "access_location": _uri(url)}


def pointers(urls: SmUrls, issuer_role: str, *, ocsp: bool = True) -> list[tuple[str, Any, bool]]:
    """AIA and CRL distribution point for a certificate signed by `issuer_role`."""
    if issuer_role == ROOT:
        aia = [_access("ca_issuers", urls.root_cert)]
        crl_url = urls.root_crl
    else:
        aia = [_access("ca_issuers", urls.issuing_cert)]
        if ocsp:
            aia.insert(0, _access("ocsp", urls.ocsp))
        crl_url = urls.crl
    cdp = [{"distribution_point": {"full_name": [_uri(crl_url)]}}]
    return [("authority_information_access", aia, False), ("crl_distribution_points", cdp, False)]


def _profile(role: str, urls: SmUrls) -> list[tuple[str, Any, bool]]:
    ca_usage = key_usage("key_cert_sign", "crl_sign")
    if role == ROOT:
        return [("basic_constraints", {"ca": True, "path_len_constraint": 1}, True), ("key_usage", ca_usage, True)]
    if role == ISSUING:
        return [
            ("basic_constraints", {"ca": True, "path_len_constraint": 0}, True),
            ("key_usage", ca_usage, True),
            *pointers(urls, ROOT),
        ]
    end: list[tuple[str, Any, bool]] = [("basic_constraints", {"ca": False}, True)]
    if role == MAKER:
        return [*end, ("key_usage", key_usage("digital_signature", "non_repudiation"), True), *pointers(urls, ISSUING)]
    if role == TSA:
        return [
            *end,
            ("key_usage", key_usage("digital_signature", "non_repudiation"), True),
            ("extended_key_usage", ["time_stamping"], True),
            *pointers(urls, ISSUING),
        ]
    return [
        *end,
        ("key_usage", key_usage("digital_signature"), True),
        ("extended_key_usage", ["ocsp_signing"], False),
        ("ocsp_no_check", None, False),
        *pointers(urls, ISSUING, ocsp=False),
    ]


def record_issued(session: Session, cert: asn1_x509.Certificate, issuer_role: str, kind: str) -> None:
    session.add(
        IssuedCertificate(
            serial=serial_hex(cert.serial_number),
            issuer_role=issuer_role,
            kind=kind,
            status="good",
            not_before=cert.not_valid_before,
            not_after=cert.not_valid_after,
        )
    )


def _identity(master: bytes, row: PkiEntity) -> SmIdentity:
    return SmIdentity(row.role, asn1_x509.Certificate.load(row.cert_der), open_key(master, row.sealed_key, row.role))


def ensure(session: Session, master: bytes, base_url: str, now: datetime | None = None) -> list[str]:
    """Create whichever SM2 identity is missing (first run); returns what was created."""
    now = now or now_utc()
    urls = SmUrls(base_url)
    existing = {row.role: row for row in session.scalars(select(PkiEntity).where(PkiEntity.role.in_(ROLES)))}
    loaded: dict[str, SmIdentity] = {}
    created: list[str] = []
    for role in ROLES:
        row = existing.get(role)
        if row is not None:
            loaded[role] = _identity(master, row)
            continue
        key = sm2.generate()
        issuer = None if role == ROOT else loaded[ROOT if role == ISSUING else ISSUING]
        end = now + timedelta(days=_VALIDITY[role])
        cert = build_certificate(
            subject=name(_NAMES[role]),
            spki_der=sm2.spki(key.public_key()),
            issuer=issuer,
            signing_key=issuer.key if issuer else key,
            not_before=now - _BACKDATE,
            not_after=min(end, issuer.cert.not_valid_after) if issuer else end,
            extensions=_profile(role, urls),
        )
        if issuer is not None:
            record_issued(session, cert, issuer.role, "ca" if role == ISSUING else role.removeprefix("sm2-"))
        session.add(PkiEntity(role=role, cert_der=cert.dump(), sealed_key=seal_key(master, key, role), created_at=now))
        loaded[role] = SmIdentity(role, cert, key)
        created.append(_NAMES[role])
    session.flush()
    return created


def load(session: Session, master: bytes, base_url: str) -> SmAuthority:
    """The four SM2 identities with keys unsealed; LookupError when they were never made."""
    rows = {row.role: row for row in session.scalars(select(PkiEntity).where(PkiEntity.role.in_(ROLES)))}
    missing = [r for r in ROLES if r not in rows]
    if missing:
        raise LookupError(f"SM2 PKI not initialised (missing {', '.join(missing)}): run `yiwang init`")
    ids = {role: _identity(master, row) for role, row in rows.items()}
    return SmAuthority(
        root=ids[ROOT], issuing=ids[ISSUING], tsa=ids[TSA], ocsp=ids[OCSP], maker=ids[MAKER], urls=SmUrls(base_url)
    )


def issue_seal_certificate(
    session: Session,
    authority: SmAuthority,
    *,
    subject: asn1_x509.Name,
    spki_der: bytes,
    validity: timedelta,
    now: datetime | None = None,
) -> asn1_x509.Certificate:
    """An SM2 seal certificate from the SM2 issuing CA, recorded for CRL/OCSP in the caller's transaction."""
    now = now or now_utc()
    cert = build_certificate(
        subject=subject,
        spki_der=spki_der,
        issuer=authority.issuing,
        signing_key=authority.issuing.key,
        not_before=now - _BACKDATE,
        not_after=min(now + validity, authority.issuing.cert.not_valid_after),
        extensions=[
            ("basic_constraints", {"ca": False}, True),
            ("key_usage", key_usage("digital_signature", "non_repudiation"), True),
            *pointers(authority.urls, ISSUING),
        ],
    )
    record_issued(session, cert, ISSUING, "seal")
    session.flush()
    return cert


def verify_issued_by(cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate) -> bool:
    """The certificate's SM3withSM2 signature checks against the issuer's key, and the names chain."""
    if cert["signature_algorithm"]["algorithm"].dotted != sm2.SM2_SM3_OID or cert.issuer != issuer.subject:
        return False
    try:
        public = sm2.load_public(issuer.public_key.dump())
    except ValueError:
        return False
    return sm2.verify(public, bytes(cert["signature_value"]), cert["tbs_certificate"].dump())


def pem(certs: Sequence[asn1_x509.Certificate]) -> str:
    return "".join(asn1_pem.armor("CERTIFICATE", c.dump()).decode("ascii") for c in certs)
