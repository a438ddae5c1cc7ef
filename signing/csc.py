"""Cloud Signature Consortium API v2 (CSC API 2.0.0.0) for organisation seals, SCAL2, without HTTP.

The credentials are seals whose policy names the calling client (service authorisation by client_credentials,
as the spec allows for organisation seals, §8.1). SCAL2 (§11.9): `credentials/authorize` binds the Signature
Activation Data to exactly the hashes given, each usable once; `signatures/signHash` refuses any other hash.
Only the SAD's SHA-256 is stored. For pyHanko's client (written against v1) the v1 names `hash` and
`hashAlgo` are accepted beside v2's `hashes` and `hashAlgorithmOID`.

`signatures/signDoc` takes whole PDFs (signature_format "P") and returns PAdES at the requested level;
its SAD binds the documents' SHA-256 digests the same way.

Errors are `CscError(status, error, description)`, rendered by the web layer as `{error, error_description}`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from sqlalchemy import select
from sqlalchemy.orm import Session

from keys.schema import utcnow
from signing import pades, sealing
from signing.context import SigningContext
from signing.errors import SigningError
from signing.models import CscAuthorisation, Seal, SignatureRecord
from signing.policy import CHECKS, Policy, Request, Requester, check_daily_cap, check_kind
from signing.ports import AuditEvent, Directory

SHA256_OID = "2.16.840.1.101.3.4.2.1"
ECDSA_SHA256_OID = "1.2.840.10045.4.3.2"
RSA_SHA256_OID = "1.2.840.113549.1.1.11"
RSA_OID = "1.2.840.113549.1.1.1"
EC_OID = "1.2.840.10045.2.1"
MULTISIGN = 100
SAD_LIFETIME = timedelta(minutes=5)
LEVELS = {"Ades-B-B": pades.B_B, "Ades-B-T": pades.B_T, "Ades-B-LT": pades.B_LT}


class CscError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def invalid(description: str) -> CscError:
    return CscError(400, "invalid_request", description)


def _field(body: dict[str, Any], *names: str, required: bool = True) -> Any:
    for name in names:
        if name in body:
            return body[name]
    if required:
        raise invalid(f"missing parameter {names[0]}")
    return None


def _hashes(body: dict[str, Any], required: bool = True) -> list[str]:
    values = _field(body, "hashes", "hash", required=required)
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise invalid("hashes must be an array of base64 strings")
    for value in values:
        try:
            if len(base64.b64decode(value, validate=True)) != 32:
                raise invalid("every hash must be a base64 SHA-256 digest (32 bytes)")
        except (binascii.Error, ValueError):
            raise invalid("hashes must be base64") from None
    return values


def _hash_algorithm(body: dict[str, Any], required: bool = True) -> None:
    oid = _field(body, "hashAlgorithmOID", "hashAlgo", required=required)
    if oid is not None and oid != SHA256_OID:
        raise invalid("only SHA-256 (2.16.840.1.101.3.4.2.1) is supported")


def info(ctx: SigningContext) -> dict[str, Any]:
    """§11.1: the service description."""
    return {
        "specs": "2.0.0.0",
        "name": "Yiwang e-seal service",
        "logo": f"{ctx.services.issuer}/static/logo.png",
        "region": "CN",
        "lang": "zh-CN",
        "description": "Organisation e-seals under policy; PAdES with our own TSA, CRL and OCSP.",
        "authType": ["oauth2client"],
        "oauth2": ctx.services.issuer,
        "methods": [
            "credentials/list",
            "credentials/info",
            "credentials/authorize",
            "signatures/signHash",
            "signatures/signDoc",
        ],
        "signAlgorithms": {"algos": [ECDSA_SHA256_OID, RSA_SHA256_OID]},
        "signature_formats": {"formats": ["P"], "envelope_properties": [["Approval"]]},
        "conformance_levels": list(LEVELS),
    }


def _requester(client_id: str) -> Requester:
    return Requester(kind="client", name=client_id, channel="csc", client_id=client_id)


def _usable(session: Session, client_id: str, seal: Seal) -> bool:
    # Only PAdES seals: CSC here offers ECDSA/RSA algorithms, and a gb38540 seal's key is SM2.
    return seal.format == "pades" and client_id in Policy.from_dict(seal.policy).clients


def _credential(session: Session, client_id: str, credential_id: Any) -> Seal:
    if not isinstance(credential_id, str) or not credential_id:
        raise invalid("missing parameter credentialID")
    seal = session.get(Seal, credential_id[:36])
    if seal is None or not _usable(session, client_id, seal):
        # The same answer whether it does not exist or is not this client's: no probing of seal ids.
        raise invalid("invalid parameter credentialID")
    return seal


def credentials_list(ctx: SigningContext, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """§11.4: the seals this client may use."""
    with ctx.services.transaction() as session:
        usable = [s for s in session.scalars(select(Seal).order_by(Seal.created_at)) if _usable(session, client_id, s)]
        result: dict[str, Any] = {"credentialIDs": [s.id for s in usable]}
        if body.get("credentialInfo"):
            result["credentialInfos"] = [{"credentialID": s.id, **_describe(ctx, s)} for s in usable]
        return result


def _describe(ctx: SigningContext, seal: Seal) -> dict[str, Any]:
    cert = x509.load_der_x509_certificate(seal.cert_der)
    public = cert.public_key()
    key: dict[str, Any]
    if isinstance(public, ec.EllipticCurvePublicKey):
        key = {"algo": [ECDSA_SHA256_OID, EC_OID], "len": public.key_size, "curve": "1.2.840.10045.3.1.7"}
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        key = {"algo": [RSA_SHA256_OID, RSA_OID], "len": public.key_size}
    der = serialization.Encoding.DER
    chain = [cert, *ctx.authority.chain()]
    return {
        "description": seal.name,
        "key": {"status": "enabled" if seal.status == "active" else "disabled", **key},
        "cert": {
            "status": "valid" if seal.status == "active" else "revoked",
            "certificates": [base64.b64encode(c.public_bytes(der)).decode() for c in chain],
            "issuerDN": cert.issuer.rfc4514_string(),
            "serialNumber": seal.cert_serial,
            "subjectDN": cert.subject.rfc4514_string(),
            "validFrom": cert.not_valid_before_utc.strftime("%Y%m%d%H%M%SZ"),
            "validTo": cert.not_valid_after_utc.strftime("%Y%m%d%H%M%SZ"),
        },
        "auth": {"mode": "oauth2code", "expression": "client_credentials"},
        "SCAL": "2",
        "multisign": MULTISIGN,
        "lang": "zh-CN",
    }


def credentials_info(ctx: SigningContext, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """§11.5."""
    with ctx.services.transaction() as session:
        return _describe(ctx, _credential(session, client_id, body.get("credentialID")))


def _precheck(session: Session, directory: Directory, seal: Seal, client_id: str) -> None:
    """The seal's policy for this client, minus the cap (counted per signature) and the document kind."""
    req = Request(
        seal=seal,
        policy=Policy.from_dict(seal.policy),
        requester=_requester(client_id),
        document_kind=None,
        now=utcnow(),
        directory=directory,
    )
    for check in CHECKS:
        if check is check_daily_cap:
            continue
        if check is check_kind and req.policy.document_kinds:
            raise CscError(403, "access_denied", "this seal may only seal named kinds of document: use the signing API")
        try:
            check(session, req)
        except SigningError as exc:
            raise CscError(403, "access_denied", exc.detail) from None


def credentials_authorize(ctx: SigningContext, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """§11.9: SAD for exactly these hashes (SCAL2), each usable once, for five minutes."""
    hashes_b64 = _hashes(body)
    _hash_algorithm(body, required=False)
    count = _field(body, "numSignatures")
    if not isinstance(count, int) or not 1 <= count <= MULTISIGN:
        raise invalid(f"numSignatures must be 1 to {MULTISIGN}")
    if len(hashes_b64) != count or len(set(hashes_b64)) != count:
        raise invalid("SCAL2: hashes must list numSignatures distinct hashes")
    sad = secrets.token_urlsafe(32)
    with ctx.services.transaction() as session:
        seal = _credential(session, client_id, body.get("credentialID"))
        _precheck(session, ctx.services.directory, seal, client_id)
        session.add(
            CscAuthorisation(
                sad_hash=hashlib.sha256(sad.encode()).hexdigest(),
                credential_id=seal.id,
                client_id=client_id,
                hash_alg=SHA256_OID,
                hashes=hashes_b64,
                remaining=count,
                expires_at=utcnow() + SAD_LIFETIME,
            )
        )
        ctx.services.audit(
            session,
            AuditEvent(
                action="csc.authorize",
                subject=seal.id,
                actor=client_id,
                channel="csc",
                client=client_id,
                detail={"signatures": count},
            ),
        )
    return {"SAD": sad, "expiresIn": int(SAD_LIFETIME.total_seconds())}


def _consume(session: Session, client_id: str, seal: Seal, sad: Any, wanted: list[str]) -> None:
    """Take `wanted` out of the SAD's hashes; all or nothing (the caller's transaction rolls back on error)."""
    if not isinstance(sad, str) or not sad:
        raise invalid("missing parameter SAD")
    grant = session.get(CscAuthorisation, hashlib.sha256(sad.encode()).hexdigest(), with_for_update=True)
    if grant is None or not hmac.compare_digest(grant.credential_id, seal.id) or grant.client_id != client_id:
        raise CscError(400, "invalid_request", "invalid SAD")
    if grant.expires_at <= utcnow():
        raise CscError(400, "invalid_request", "the SAD has expired")
    left = list(grant.hashes or [])
    for value in wanted:
        if value not in left:
            raise CscError(400, "invalid_request", "a hash was not authorised by this SAD (SCAL2), or was already used")
        left.remove(value)
    if len(wanted) > grant.remaining:
        raise CscError(400, "invalid_request", "more signatures than the SAD allows")
    grant.hashes, grant.remaining = left, grant.remaining - len(wanted)
    if grant.remaining == 0:
        session.delete(grant)


def _count(session: Session, directory: Directory, seal: Seal, client_id: str, n: int) -> None:
    req = Request(
        seal=seal,
        policy=Policy.from_dict(seal.policy),
        requester=_requester(client_id),
        document_kind=None,
        now=utcnow(),
        directory=directory,
    )
    try:
        for _ in range(n):
            check_daily_cap(session, req)
    except SigningError as exc:
        raise CscError(403, "access_denied", exc.detail) from None


def digest_signer(ctx: SigningContext, seal: Seal) -> Callable[[bytes], bytes]:
    """Sign a SHA-256 digest with the seal's key (software or HSM), as DER ECDSA or PKCS#1 v1.5."""
    material = sealing.material(ctx, seal)
    signer = material.signer
    if isinstance(signer, pades.LoadedKeySigner):
        key = signer._key  # noqa: SLF001 - the loaded key is what makes this fast
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return lambda digest: key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        return lambda digest: key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    sign_digest = getattr(signer, "sign_digest", None)
    if sign_digest is None or seal.key_alg != "ec-p256":
        raise CscError(400, "invalid_request", "signHash is available for ECDSA keys in the HSM only")
    return sign_digest  # type: ignore[no-any-return]


def sign_hash(ctx: SigningContext, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """§11.10: signatures for the authorised hashes, in the order given."""
    wanted = _hashes(body)
    if not wanted:
        raise invalid("hashes must not be empty")
    _hash_algorithm(body, required=False)
    with ctx.services.transaction() as session:
        seal = _credential(session, client_id, body.get("credentialID"))
    allowed = (ECDSA_SHA256_OID,) if seal.key_alg == "ec-p256" else (RSA_SHA256_OID, RSA_OID)
    if _field(body, "signAlgo") not in allowed:
        raise invalid(f"signAlgo must be {allowed[0]} for this credential")
    sign = digest_signer(ctx, seal)
    signatures = [base64.b64encode(sign(base64.b64decode(h))).decode() for h in wanted]

    def commit(session: Session) -> None:
        current = session.get(Seal, seal.id)
        assert current is not None
        _precheck(session, ctx.services.directory, current, client_id)
        _consume(session, client_id, current, body.get("SAD"), wanted)
        _count(session, ctx.services.directory, current, client_id, len(wanted))
        now = utcnow()
        for value in wanted:
            session.add(
                SignatureRecord(
                    org_id=current.org_id,
                    seal_id=current.id,
                    cert_serial=current.cert_serial,
                    requester=client_id,
                    channel="csc",
                    document_sha256=base64.b64decode(value).hex(),
                    signed_sha256="",
                    level="hash",
                    signed_at=now,
                )
            )
        ctx.services.audit(
            session,
            AuditEvent(
                action="csc.sign_hash",
                subject=current.id,
                actor=client_id,
                channel="csc",
                client=client_id,
                detail={"signatures": len(wanted)},
            ),
        )

    _run(ctx, commit)
    return {"signatures": signatures}


def _run(ctx: SigningContext, work: Callable[[Session], Any]) -> Any:
    try:
        return ctx.run(work)
    except CscError:
        raise
    except SigningError as exc:
        raise CscError(exc.status if exc.status in (400, 403, 404) else 400, "invalid_request", exc.detail) from None


def sign_doc(ctx: SigningContext, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """§11.11: whole PDFs in (base64), PAdES out, at the conformance level asked for (default B-LT)."""
    documents = _field(body, "documents")
    if not isinstance(documents, list) or not 1 <= len(documents) <= MULTISIGN:
        raise invalid(f"documents must be an array of 1 to {MULTISIGN} entries")
    items: list[tuple[bytes, str]] = []
    for entry in documents:
        if not isinstance(entry, dict) or not isinstance(entry.get("document"), str):
            raise invalid("each document needs a base64 `document`")
        if entry.get("signature_format", "P") != "P":
            raise invalid("only signature_format P (PAdES) is supported")
        level = LEVELS.get(entry.get("conformance_level", "Ades-B-LT"))
        if level is None:
            raise invalid(f"conformance_level must be one of {', '.join(LEVELS)}")
        try:
            data = base64.b64decode(entry["document"], validate=True)
        except (binascii.Error, ValueError):
            raise invalid("document must be base64") from None
        if len(data) > pades.MAX_PDF_BYTES:
            raise CscError(413, "invalid_request", f"a document is larger than {pades.MAX_PDF_BYTES} bytes")
        items.append((data, level))
    digests = [base64.b64encode(hashlib.sha256(d).digest()).decode() for d, _ in items]
    with ctx.services.transaction() as session:
        seal = _credential(session, client_id, body.get("credentialID"))
        _precheck(session, ctx.services.directory, seal, client_id)
    requester = _requester(client_id)
    signed: list[str] = []

    def consume(session: Session) -> None:
        current = session.get(Seal, seal.id)
        assert current is not None
        _consume(session, client_id, current, body.get("SAD"), digests)

    # The SAD is spent first, in its own transaction: a failure later never lets it sign another document.
    _run(ctx, consume)
    for data, level in items:
        try:
            result = sealing.seal_document(ctx, seal.id, data, pades.Placement(), requester=requester, level=level)
        except SigningError as exc:
            raise CscError(
                exc.status if exc.status in (400, 403, 404, 413, 422) else 400, "invalid_request", exc.detail
            ) from None
        signed.append(base64.b64encode(result.signed.data).decode())
    return {"DocumentWithSignature": signed}
