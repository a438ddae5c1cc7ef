"""Revocation status for the SM2 hierarchy: CRLs (RFC 5280 §5) and OCSP responses (RFC 6960 §4.2), both
signed SM3withSM2, answered from the same `pki_certificates` rows as the ECDSA hierarchy.

Revoking and reissuing the CRL happen in the caller's transaction, so a revocation and its CRL commit together
and OCSP answers "revoked" from that commit on.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing import sm2
from signing.asn1 import der
from signing.models import Crl, IssuedCertificate
from signing.sm_pki import ISSUING, ROOT, SM2_SM3, SmAuthority, SmIdentity, now_utc, serial_hex

LIFETIME = timedelta(days=7)
REFRESH_MARGIN = timedelta(days=3)
OCSP_VALIDITY = timedelta(hours=12)
REASONS = ("unspecified", "key_compromise", "affiliation_changed", "superseded", "cessation_of_operation")


def _gt(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def _time(value: datetime) -> asn1_x509.Time:
    return asn1_x509.Time({"utc_time": _gt(value)})


def build_crl(session: Session, issuer: SmIdentity, number: int, now: datetime) -> bytes:
    rows = session.scalars(
        select(IssuedCertificate).where(
            IssuedCertificate.issuer_role == issuer.role, IssuedCertificate.status == "revoked"
        )
    )
    return build_crl_for(issuer, list(rows), number, now)


def build_crl_for(issuer: SmIdentity, rows: list[IssuedCertificate], number: int, now: datetime) -> bytes:
    """A CRL of `issuer` listing `rows` (revoked certificates), signed SM3withSM2."""
    entries: list[dict[str, Any]] = []
    for row in rows:
        assert row.revoked_at is not None
        entry: dict[str, Any] = {"user_certificate": int(row.serial, 16), "revocation_date": _time(row.revoked_at)}
        if row.revocation_reason and row.revocation_reason != "unspecified":  # §5.3.1: omit "unspecified"
            entry["crl_entry_extensions"] = [{"extn_id": "crl_reason", "extn_value": row.revocation_reason}]
        entries.append(entry)
    tbs = asn1_crl.TbsCertList(
        {
            "version": "v2",
            "signature": SM2_SM3,
            "issuer": issuer.cert.subject,
            "this_update": _time(now),
            "next_update": _time(now + LIFETIME),
            "revoked_certificates": entries or None,
            "crl_extensions": [
                {"extn_id": "crl_number", "extn_value": number},
                {"extn_id": "authority_key_identifier", "extn_value": {"key_identifier": issuer.cert.key_identifier}},
            ],
        }
    )
    if not entries:
        del tbs["revoked_certificates"]
    signed = asn1_crl.CertificateList(
        {"tbs_cert_list": tbs, "signature_algorithm": SM2_SM3, "signature": sm2.sign(issuer.key, der(tbs))}
    )
    return der(signed)


def reissue(session: Session, authority: SmAuthority, role: str = ISSUING, now: datetime | None = None) -> bytes:
    now = now or now_utc()
    last = session.scalar(select(Crl.number).where(Crl.issuer_role == role).order_by(Crl.number.desc()).limit(1))
    number = (last or 0) + 1
    blob = build_crl(session, authority.by_role(role), number, now)
    session.add(Crl(issuer_role=role, number=number, der=blob, this_update=now, next_update=now + LIFETIME))
    session.flush()
    return blob


def current_crl(session: Session, authority: SmAuthority, role: str = ISSUING, now: datetime | None = None) -> bytes:
    """The current CRL of `role` (sm2-issuing or sm2-root), reissued first when missing or about to go stale."""
    now = now or now_utc()
    row = session.scalars(select(Crl).where(Crl.issuer_role == role).order_by(Crl.number.desc()).limit(1)).first()
    if row is not None and row.next_update - now > REFRESH_MARGIN:
        return row.der
    return reissue(session, authority, role, now)


def revoke(
    session: Session, authority: SmAuthority, serial: str, reason: str = "unspecified", now: datetime | None = None
) -> IssuedCertificate:
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}")
    now = now or now_utc()
    row = session.get(IssuedCertificate, serial, with_for_update=True)
    if row is None or row.issuer_role not in (ROOT, ISSUING):
        raise LookupError(f"no SM2 certificate with serial {serial}")
    if row.status != "revoked":
        row.status, row.revoked_at, row.revocation_reason = "revoked", now, reason
        session.flush()
        reissue(session, authority, row.issuer_role, now)
    return row


def _key_bits(cert: asn1_x509.Certificate) -> bytes:
    return bytes(cert.public_key["public_key"].contents[1:])


MAX_REQUEST_BYTES = 10_000
_HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}


def unsuccessful(status: str) -> bytes:
    return der(asn1_ocsp.OCSPResponse({"response_status": status}))


def respond(session: Session, authority: SmAuthority, request_der: bytes, now: datetime | None = None) -> bytes:
    """Answer a DER OCSPRequest (RFC 6960 §4.1) about a certificate of the SM2 issuing CA; never raises."""
    if len(request_der) > MAX_REQUEST_BYTES:
        return unsuccessful("malformed_request")
    try:
        request = asn1_ocsp.OCSPRequest.load(request_der, strict=True)
        (single,) = list(request["tbs_request"]["request_list"])
        cert_id = single["req_cert"]
        algorithm = cert_id["hash_algorithm"]["algorithm"].native
        serial = int(cert_id["serial_number"].native)
        nonce = request.nonce_value.native if request.nonce_value is not None else None
        name_hash, key_hash = cert_id["issuer_name_hash"].native, cert_id["issuer_key_hash"].native
    except (ValueError, TypeError, KeyError):
        return unsuccessful("malformed_request")
    digest = _HASHES.get(algorithm)
    issuer = authority.issuing.cert
    if digest is None or (name_hash, key_hash) != (
        digest(issuer.subject.dump()).digest(),
        digest(_key_bits(issuer)).digest(),
    ):
        return unsuccessful("unauthorized")  # §2.3: not a CA we answer for
    return respond_for(session, authority, serial=serial, algorithm=algorithm, nonce=nonce, now=now)


def respond_for(
    session: Session,
    authority: SmAuthority,
    *,
    serial: int,
    algorithm: str = "sha1",
    nonce: bytes | None = None,
    now: datetime | None = None,
) -> bytes:
    """A DER OCSPResponse about one certificate of the SM2 issuing CA, signed by the SM2 OCSP signer."""
    now = now or now_utc()
    digest = _HASHES[algorithm]
    issuer = authority.issuing
    row = session.get(IssuedCertificate, serial_hex(serial))
    status: Any
    if row is None or row.issuer_role != ISSUING:
        status = asn1_ocsp.CertStatus(name="unknown", value=None)
    elif row.status == "revoked":
        assert row.revoked_at is not None
        info: dict[str, Any] = {"revocation_time": _gt(row.revoked_at)}
        if row.revocation_reason and row.revocation_reason != "unspecified":
            info["revocation_reason"] = row.revocation_reason
        status = asn1_ocsp.CertStatus(name="revoked", value=info)
    else:
        status = asn1_ocsp.CertStatus(name="good", value=None)
    tbs = asn1_ocsp.ResponseData(
        {
            "responder_id": asn1_ocsp.ResponderId(
                name="by_key", value=hashlib.sha1(_key_bits(authority.ocsp.cert)).digest()
            ),
            "produced_at": _gt(now),
            "responses": [
                {
                    "cert_id": {
                        "hash_algorithm": {"algorithm": algorithm},
                        "issuer_name_hash": digest(issuer.cert.subject.dump()).digest(),
                        "issuer_key_hash": digest(_key_bits(issuer.cert)).digest(),
                        "serial_number": serial,
                    },
                    "cert_status": status,
                    "this_update": _gt(now),
                    "next_update": _gt(now + OCSP_VALIDITY),
                }
            ],
            "response_extensions": [{"extn_id": "nonce", "extn_value": nonce}] if nonce is not None else None,
        }
    )
    if nonce is None:
        del tbs["response_extensions"]
    basic = asn1_ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": tbs,
            "signature_algorithm": SM2_SM3,
            "signature": sm2.sign(authority.ocsp.key, der(tbs)),
            "certs": [authority.ocsp.cert],
        }
    )
    response = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    )
    return der(response)


def ocsp_status(response_der: bytes) -> tuple[str, datetime | None]:
    """Status and revocation time from a DER OCSPResponse (its signature is checked by the caller)."""
    response = asn1_ocsp.OCSPResponse.load(response_der)
    single = response.basic_ocsp_response["tbs_response_data"]["responses"][0]
    status = single["cert_status"]
    if status.name == "revoked":
        return "revoked", status.chosen["revocation_time"].native
    return str(status.name), None


def verify_ocsp(response_der: bytes, authority_ocsp_cert: asn1_x509.Certificate) -> bool:
    basic = asn1_ocsp.OCSPResponse.load(response_der).basic_ocsp_response
    public = sm2.load_public(authority_ocsp_cert.public_key.dump())
    return sm2.verify(public, bytes(basic["signature"]), basic["tbs_response_data"].dump())
