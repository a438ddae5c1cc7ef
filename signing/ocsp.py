"""OCSP responder (RFC 6960), answering from the certificate table, so a revocation shows at once.

Certificates issued by the issuing CA are answered by the delegated OCSP signer (§4.2.2.2); the issuing CA's own
certificate, issued by the root, is answered by the root itself. Requests for any other issuer get
`unauthorized` (§2.3). A nonce in the request (§4.4.1) is echoed. Only single-certificate requests are served:
that is what every client we know of sends, and cryptography's parser supports no other.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from sqlalchemy.orm import Session

from keys.schema import utcnow
from signing.crl import REASONS
from signing.models import IssuedCertificate
from signing.pki import ISSUING, Authority, Identity, serial_hex

# Responses are made per request from live data, so a short validity only bounds how long a cached one is used.
VALIDITY = timedelta(hours=1)
MAX_REQUEST_BYTES = 10_000


def _key_bytes(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING value (RFC 6960 §4.1.1 issuerKeyHash input)."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)  # type: ignore[union-attr]


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _matches(cert: x509.Certificate, request: ocsp.OCSPRequest) -> bool:
    algorithm = request.hash_algorithm
    return (
        _digest(algorithm, cert.subject.public_bytes()) == request.issuer_name_hash
        and _digest(algorithm, _key_bytes(cert)) == request.issuer_key_hash
    )


def unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def _status(
    session: Session, issuer_role: str, serial: int
) -> tuple[ocsp.OCSPCertStatus, datetime | None, x509.ReasonFlags | None]:
    row = session.get(IssuedCertificate, serial_hex(serial))
    if row is None or row.issuer_role != issuer_role:
        return ocsp.OCSPCertStatus.UNKNOWN, None, None
    if row.status == "revoked":
        reason = REASONS.get(row.revocation_reason or "unspecified", x509.ReasonFlags.unspecified)
        return ocsp.OCSPCertStatus.REVOKED, row.revoked_at, reason
    return ocsp.OCSPCertStatus.GOOD, None, None


def respond_for(
    session: Session,
    authority: Authority,
    *,
    issuer: Identity,
    serial: int,
    nonce: bytes | None = None,
    name_hash: bytes | None = None,
    key_hash: bytes | None = None,
    algorithm: hashes.HashAlgorithm | None = None,
    now: datetime | None = None,
) -> ocsp.OCSPResponse:
    """A signed response about one certificate of `issuer` (also used in-process when embedding B-LT data)."""
    now = now or utcnow()
    algorithm = algorithm or hashes.SHA1()
    status, revoked_at, reason = _status(session, issuer.role, serial)
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=name_hash or _digest(algorithm, issuer.cert.subject.public_bytes()),
        issuer_key_hash=key_hash or _digest(algorithm, _key_bytes(issuer.cert)),
        serial_number=serial,
        algorithm=algorithm,
        cert_status=status,
        this_update=now,
        next_update=now + VALIDITY,
        revocation_time=revoked_at,
        revocation_reason=reason if reason is not x509.ReasonFlags.unspecified else None,
    )
    signer = authority.ocsp if issuer.role == ISSUING else authority.root
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer.cert)
    if signer is authority.ocsp:
        builder = builder.certificates([signer.cert])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.sign(signer.key, hashes.SHA256())


def respond(session: Session, authority: Authority, request_der: bytes, now: datetime | None = None) -> bytes:
    """Answer a DER OCSPRequest (§4.1) with a DER OCSPResponse (§4.2); never raises on bad input."""
    if len(request_der) > MAX_REQUEST_BYTES:
        return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = request.hash_algorithm
        nonce = None
        for ext in request.extensions:
            if isinstance(ext.value, x509.OCSPNonce):
                nonce = ext.value.nonce
    except (ValueError, x509.UnsupportedGeneralNameType, x509.DuplicateExtension):
        return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    except Exception:  # noqa: BLE001 - e.g. an unsupported hash algorithm: still the client's request at fault
        return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    issuer = next((i for i in (authority.issuing, authority.root) if _matches(i.cert, request)), None)
    if issuer is None:
        return unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    response = respond_for(
        session,
        authority,
        issuer=issuer,
        serial=request.serial_number,
        nonce=nonce,
        name_hash=request.issuer_name_hash,
        key_hash=request.issuer_key_hash,
        algorithm=algorithm,
        now=now,
    )
    return response.public_bytes(serialization.Encoding.DER)
