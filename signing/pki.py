"""Our PKI: a root CA, an issuing CA, a time-stamping unit and an OCSP signer; certificate issuance.

Profiles follow RFC 5280 (§4.2.1.x extensions), RFC 3161 §2.3 (TSA: critical EKU timeStamping only) and
RFC 6960 §4.2.2.2 (delegated OCSP signer: EKU OCSPSigning, plus id-pkix-ocsp-nocheck from §4.2.2.2.1).
Every certificate the issuing CA signs carries an AIA (caIssuers + OCSP) and a CRL distribution point under
`settings.issuer`, so a validator that only has the certificate can find its chain and its status.

Private keys are ECDSA P-256, sealed under the master key with a label naming their role, and kept in the
database so that every app node shares them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

import keys
from keys.schema import utcnow
from signing.models import IssuedCertificate, PkiEntity

ROOT, ISSUING, TSA, OCSP = "root", "issuing", "tsa", "ocsp"
ROLES = (ROOT, ISSUING, TSA, OCSP)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

_VALIDITY = {
    ROOT: timedelta(days=20 * 365),
    ISSUING: timedelta(days=10 * 365),
    TSA: timedelta(days=5 * 365),
    OCSP: timedelta(days=2 * 365),
}
_NAMES = {
    ROOT: "Yiwang Root CA",
    ISSUING: "Yiwang Issuing CA",
    TSA: "Yiwang Time-Stamping Authority",
    OCSP: "Yiwang OCSP Responder",
}
# Backdating absorbs clock skew between us and whoever validates right after issuance.
_BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class PkiUrls:
    """Where a validator finds what a certificate points to (all under the service's public base URL)."""

    base: str

    @property
    def crl(self) -> str:
        return f"{self.base}/pki/crl"

    @property
    def root_crl(self) -> str:
        return f"{self.base}/pki/root.crl"

    @property
    def ocsp(self) -> str:
        return f"{self.base}/pki/ocsp"

    @property
    def issuing_cert(self) -> str:
        return f"{self.base}/pki/issuing-ca.cer"

    @property
    def root_cert(self) -> str:
        return f"{self.base}/pki/root-ca.cer"

    @property
    def tsa(self) -> str:
        return f"{self.base}/tsa"


@dataclass(frozen=True)
class Identity:
    """One PKI identity with its key loaded: what a process keeps in memory to sign without reparsing."""

    role: str
    cert: x509.Certificate
    key: PrivateKey


@dataclass(frozen=True)
class Authority:
    """All four identities, loaded once per process (`load`)."""

    root: Identity
    issuing: Identity
    tsa: Identity
    ocsp: Identity
    urls: PkiUrls

    def chain(self) -> list[x509.Certificate]:
        """The issuing chain, issuing CA first (what `yiwang ca export-chain` prints)."""
        return [self.issuing.cert, self.root.cert]


def key_label(owner: str) -> str:
    """Associated data for a sealed key: a key sealed for one owner does not open as another's."""
    return f"pki-key/{owner}"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def seal_private_key(master: bytes, key: PrivateKey, owner: str) -> bytes:
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return keys.wrap_key(master, der, key_label(owner))


def open_private_key(master: bytes, sealed: bytes, owner: str) -> PrivateKey:
    key = serialization.load_der_private_key(keys.unwrap_key(master, sealed, key_label(owner)), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported key type for {owner}")
    return key


def serial_hex(serial: int) -> str:
    return format(serial, "x")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Yiwang"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def key_usage(*, sign: bool = False, non_repudiation: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def pointers(urls: PkiUrls, issuer_role: str, *, ocsp: bool = True) -> list[x509.ExtensionType]:
    """AIA (RFC 5280 §4.2.2.1) and CRL distribution point (§4.2.1.13) for a certificate signed by `issuer_role`."""
    if issuer_role == ROOT:
        return [
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(urls.root_cert)
                    )
                ]
            ),
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(urls.root_crl)], None, None, None)]
            ),
        ]
    access = [
        x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(urls.issuing_cert)
        )
    ]
    if ocsp:
        access.insert(
            0, x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp))
        )
    return [
        x509.AuthorityInformationAccess(access),
        x509.CRLDistributionPoints(
            [x509.DistributionPoint([x509.UniformResourceIdentifier(urls.crl)], None, None, None)]
        ),
    ]


def build_certificate(
    *,
    subject: x509.Name,
    public_key: PublicKey,
    issuer: Identity | None,
    signing_key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    """Sign a certificate; `issuer=None` makes it self-signed. SKI always, AKI whenever there is an issuer."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(public_key)
        # RFC 5280 §4.1.2.2: positive, at most 20 octets; 159 random bits are both unique and unguessable.
        .serial_number(secrets.randbits(159) | 1 << 158)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())


def record_issued(session: Session, cert: x509.Certificate, issuer_role: str, kind: str) -> IssuedCertificate:
    row = IssuedCertificate(
        serial=serial_hex(cert.serial_number),
        issuer_role=issuer_role,
        kind=kind,
        status="good",
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
    session.add(row)
    return row


def issue(
    session: Session,
    authority: Authority,
    *,
    subject: x509.Name,
    public_key: PublicKey,
    kind: str,
    validity: timedelta,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
    now: datetime | None = None,
) -> x509.Certificate:
    """Issue an end-entity certificate from the issuing CA and record it for CRL/OCSP, in the caller's transaction."""
    now = now or utcnow()
    not_after = min(now + validity, authority.issuing.cert.not_valid_after_utc)
    cert = build_certificate(
        subject=subject,
        public_key=public_key,
        issuer=authority.issuing,
        signing_key=authority.issuing.key,
        not_before=now - _BACKDATE,
        not_after=not_after,
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            *[(e, False) for e in pointers(authority.urls, ISSUING)],
            *extensions,
        ],
    )
    record_issued(session, cert, ISSUING, kind)
    session.flush()
    return cert


def _profile(role: str, urls: PkiUrls) -> list[tuple[x509.ExtensionType, bool]]:
    if role == ROOT:
        return [(x509.BasicConstraints(ca=True, path_length=1), True), (key_usage(ca=True), True)]
    if role == ISSUING:
        return [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (key_usage(ca=True), True),
            *[(e, False) for e in pointers(urls, ROOT)],
        ]
    end_entity: list[tuple[x509.ExtensionType, bool]] = [(x509.BasicConstraints(ca=False, path_length=None), True)]
    if role == TSA:
        return [
            *end_entity,
            (key_usage(sign=True, non_repudiation=True), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True),
            *[(e, False) for e in pointers(urls, ISSUING)],
        ]
    # The OCSP signer is not itself checked for revocation (ocsp-nocheck), so it gets no OCSP pointer.
    return [
        *end_entity,
        (key_usage(sign=True), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
        (x509.OCSPNoCheck(), False),
        *[(e, False) for e in pointers(urls, ISSUING, ocsp=False)],
    ]


def ensure_pki(session: Session, master: bytes, base_url: str, now: datetime | None = None) -> list[str]:
    """Create whichever of the four identities is missing (first run); returns what was created."""
    now = now or utcnow()
    urls = PkiUrls(base_url)
    existing = {row.role: row for row in session.scalars(select(PkiEntity))}
    created: list[str] = []
    loaded: dict[str, Identity] = {}
    for role in ROLES:
        row = existing.get(role)
        if row is not None:
            loaded[role] = Identity(
                role, x509.load_der_x509_certificate(row.cert_der), open_private_key(master, row.sealed_key, role)
            )
            continue
        key = new_key()
        issuer = None if role == ROOT else loaded[ROOT if role == ISSUING else ISSUING]
        cert = build_certificate(
            subject=_name(_NAMES[role]),
            public_key=key.public_key(),
            issuer=issuer,
            signing_key=issuer.key if issuer else key,
            not_before=now - _BACKDATE,
            not_after=min(now + _VALIDITY[role], issuer.cert.not_valid_after_utc) if issuer else now + _VALIDITY[role],
            extensions=_profile(role, urls),
        )
        if issuer is not None:
            record_issued(session, cert, issuer.role, "ca" if role == ISSUING else role)
        session.add(
            PkiEntity(
                role=role,
                cert_der=cert.public_bytes(serialization.Encoding.DER),
                sealed_key=seal_private_key(master, key, role),
                created_at=now,
            )
        )
        loaded[role] = Identity(role, cert, key)
        created.append(
            {ROOT: "root CA", ISSUING: "issuing CA", TSA: "time-stamping certificate", OCSP: "OCSP signer"}[role]
        )
    session.flush()
    return created


def load(session: Session, master: bytes, base_url: str) -> Authority:
    """The four identities with their keys unsealed; raises LookupError when `yiwang init` has not made them."""
    rows = {row.role: row for row in session.scalars(select(PkiEntity))}
    missing = [r for r in ROLES if r not in rows]
    if missing:
        raise LookupError(f"PKI not initialised (missing {', '.join(missing)}): run `yiwang init`")
    ids = {
        role: Identity(
            role, x509.load_der_x509_certificate(row.cert_der), open_private_key(master, row.sealed_key, role)
        )
        for role, row in rows.items()
        if role in ROLES
    }
    return Authority(root=ids[ROOT], issuing=ids[ISSUING], tsa=ids[TSA], ocsp=ids[OCSP], urls=PkiUrls(base_url))


def pem(certs: Sequence[x509.Certificate]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certs)
