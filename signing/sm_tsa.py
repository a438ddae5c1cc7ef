"""RFC 3161 time-stamp tokens over SM3, signed SM3withSM2 by the SM2 time-stamping unit (GB/T 38540 §7.2
puts such a token over the signature value in `SES_Signature.timeStamp`).

The token is CMS SignedData (RFC 5652) as in `signing.tsa`: TSTInfo with an SM3 message imprint, signed
attributes (content type, message digest, ESS signing-certificate-v2 over SM3), digest SM3 and signature
algorithm SM3withSM2 in the SignerInfo (GM/T 0010 §7).
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as asn1_x509

from signing import sm2
from signing.asn1 import der
from signing.sm_pki import SmIdentity, now_utc
from signing.tsa import POLICY_OID

SM3 = {"algorithm": sm2.SM3_OID}


@dataclass(frozen=True)
class SmStamp:
    token: bytes  # DER ContentInfo
    serial: int
    gen_time: datetime


def _signing_certificate_v2(cert: asn1_x509.Certificate) -> cms.CMSAttribute:
    ess = tsp.SigningCertificateV2(
        {
            "certs": [
                {
                    "hash_algorithm": SM3,
                    "cert_hash": sm2.sm3(cert.dump()),
                    "issuer_serial": {
                        "issuer": [asn1_x509.GeneralName(name="directory_name", value=cert.issuer)],
                        "serial_number": cert.serial_number,
                    },
                }
            ]
        }
    )
    return cms.CMSAttribute({"type": "signing_certificate_v2", "values": [ess]})


@dataclass(frozen=True)
class _Prepared:
    """DER of the parts every token of one TSA repeats. Fresh asn1crypto objects are loaded from these for each
    token: objects shared between parents make asn1crypto re-encode them over and over (see signing.asn1)."""

    signing_cert_attr: bytes
    sid: bytes
    tsa_name: bytes
    certs: tuple[bytes, ...]


@functools.lru_cache(maxsize=8)
def _prepare(tsa_der: bytes, chain_der: tuple[bytes, ...]) -> _Prepared:
    cert = asn1_x509.Certificate.load(tsa_der)
    sid = cms.SignerIdentifier(
        name="issuer_and_serial_number", value={"issuer": cert.issuer, "serial_number": cert.serial_number}
    )
    return _Prepared(
        signing_cert_attr=der(_signing_certificate_v2(cert)),
        sid=der(sid),
        tsa_name=der(asn1_x509.GeneralName(name="directory_name", value=cert.subject)),
        certs=(tsa_der, *chain_der),
    )


def stamp(tsa: SmIdentity, chain: list[asn1_x509.Certificate], data: bytes, now: datetime | None = None) -> SmStamp:
    """A granted token whose message imprint is SM3(`data`)."""
    prepared = _prepare(tsa.der, tuple(c.dump() for c in chain))
    gen_time = (now or now_utc()).replace(microsecond=0)
    serial = secrets.randbits(126) | 1 << 125
    tst_info = der(
        tsp.TSTInfo(
            {
                "version": "v1",
                "policy": POLICY_OID,
                "message_imprint": {"hash_algorithm": SM3, "hashed_message": sm2.sm3(data)},
                "serial_number": serial,
                "gen_time": gen_time,
                "accuracy": {"seconds": 1},
                "tsa": asn1_x509.GeneralName.load(prepared.tsa_name),
            }
        )
    )
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [sm2.sm3(tst_info)]}),
            cms.CMSAttribute.load(prepared.signing_cert_attr),
        ]
    )
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier.load(prepared.sid),
            "digest_algorithm": SM3,
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": sm2.SM2_SM3_OID}),
            "signature": sm2.sign(tsa.key, der(signed_attrs)),
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [SM3],
            "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_info)},
            "certificates": [
                cms.CertificateChoices(name="certificate", value=asn1_x509.Certificate.load(c)) for c in prepared.certs
            ],
            "signer_infos": [signer_info],
        }
    )
    token = der(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}))
    return SmStamp(token=token, serial=serial, gen_time=gen_time)


@dataclass(frozen=True)
class TokenCheck:
    intact: bool  # imprint matches the data, message digest matches, SM2 signature by the token's signer holds
    signer: asn1_x509.Certificate | None
    serial: int | None
    gen_time: datetime | None
    problem: str | None = None


def check(token_der: bytes, data: bytes) -> TokenCheck:
    """Check a token against the data it claims to stamp; the caller decides whether its signer is trusted."""
    try:
        info = cms.ContentInfo.load(token_der)
        signed = info["content"]
        tst_der = bytes(signed["encap_content_info"]["content"].contents)
        tst = tsp.TSTInfo.load(tst_der)
        imprint = tst["message_imprint"]
        serial, gen_time = int(tst["serial_number"].native), tst["gen_time"].native
        signer_info = signed["signer_infos"][0]
        sid = signer_info["sid"].chosen
        certs = [c.chosen for c in signed["certificates"]]
        signer = next(
            (c for c in certs if c.serial_number == sid["serial_number"].native and c.issuer == sid["issuer"]), None
        )
        attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return TokenCheck(False, None, None, None, "the time-stamp token cannot be parsed")
    if imprint["hash_algorithm"]["algorithm"].dotted != sm2.SM3_OID or imprint["hashed_message"].native != sm2.sm3(
        data
    ):
        return TokenCheck(False, signer, serial, gen_time, "the time-stamp does not cover this signature value")
    if attrs.get("message_digest") is None or attrs["message_digest"].native != sm2.sm3(tst_der):
        return TokenCheck(False, signer, serial, gen_time, "the time-stamp's content was changed")
    if signer is None:
        return TokenCheck(False, None, serial, gen_time, "the time-stamp names no certificate it carries")
    try:
        public = sm2.load_public(signer.public_key.dump())
    except ValueError:
        return TokenCheck(False, signer, serial, gen_time, "the time-stamp is not signed with SM2")
    if not sm2.verify(public, bytes(signer_info["signature"].native), signer_info["signed_attrs"].untag().dump()):
        return TokenCheck(False, signer, serial, gen_time, "the time-stamp's signature does not verify")
    return TokenCheck(True, signer, serial, gen_time)
