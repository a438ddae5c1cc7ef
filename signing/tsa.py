"""RFC 3161 time-stamping authority: TimeStampReq in, TimeStampResp out, signed by our TSA certificate.

- Request checks (§2.4.1): version 1, a known and strong hash algorithm whose digest length matches, no
  policy other than ours, no extensions (we support none, so any is `unacceptedExtension`).
- The token (§2.4.2) is a CMS SignedData (RFC 5652) over a TSTInfo with signed attributes contentType,
  messageDigest and ESS signingCertificateV2 (RFC 5035, as RFC 5816 allows), signed with ECDSA P-256/SHA-256.
- `certReq` (§2.4.1) puts the TSA certificate (and the issuing CA) in the token.
- Errors are answered as a TimeStampResp with status `rejection` and a failInfo (§2.4.2), never as an
  exception: the HTTP layer always returns `application/timestamp-reply`.

This module does no I/O; `respond` serves the HTTP endpoint and `InProcessTimeStamper` lets pyHanko ask us
directly when we seal a PDF.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import TimeStamper

from signing.asn1 import der, settle
from signing.pki import Authority, Identity

# Our TSA policy (RFC 3161 §2.4.2 `policy`): a UUID-derived OID (ITU-T X.667, arc 2.25), ours alone.
POLICY_OID = "2.25.26715656777650355465217140259240693691"
MAX_REQUEST_BYTES = 10_000
ACCEPTED_DIGESTS = {"sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}


class _Response(core.Sequence):  # type: ignore[misc]
    """TimeStampResp with the token OPTIONAL, as §2.4.2 has it (asn1crypto marks it mandatory)."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


@dataclass(frozen=True)
class Rejection(Exception):
    fail_info: str  # an asn1crypto PKIFailureInfo name: bad_alg, bad_request, bad_data_format, ...
    text: str


@dataclass(frozen=True)
class Stamp:
    """A granted time-stamp: the token, and what we record about it."""

    token: cms.ContentInfo
    serial: int
    gen_time: datetime


def _asn1_cert(der: bytes) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(der)


class TimeStampAuthority:
    """Holds the TSA identity parsed once; `stamp` then costs one TSTInfo, one CMS and one ECDSA signature."""

    def __init__(self, identity: Identity, chain: list[bytes]) -> None:
        self._key = identity.key
        der = identity.cert.public_bytes(serialization.Encoding.DER)
        self.cert = _asn1_cert(der)
        # DER, not shared asn1crypto objects: each token gets fresh ones (asn1crypto objects placed in several
        # parents can make later serialisation pathologically slow).
        self._cert_ders = [der, *chain]
        self._sid = cms.SignerIdentifier(
            {
                "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                    {"issuer": self.cert.issuer, "serial_number": self.cert.serial_number}
                )
            }
        )
        self._signing_cert_attr = simple_cms_attribute(
            "signing_certificate_v2", as_signing_certificate_v2(self.cert)
        ).dump()
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            self._sig_alg = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
        else:
            self._sig_alg = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})
        self._tsa_name = asn1_x509.GeneralName(name="directory_name", value=self.cert.subject).dump()

    @classmethod
    def of(cls, authority: Authority) -> TimeStampAuthority:
        return cls(authority.tsa, [authority.issuing.cert.public_bytes(serialization.Encoding.DER)])

    def _sign(self, data: bytes) -> bytes:
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(hashes.SHA256()))
        assert isinstance(self._key, rsa.RSAPrivateKey)
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def check(self, request: tsp.TimeStampReq) -> None:
        """Raise `Rejection` unless we can serve `request` (RFC 3161 §2.4.1)."""
        try:
            if request["version"].native != "v1":
                raise Rejection("bad_request", "version must be 1")
            imprint = request["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            if algorithm not in ACCEPTED_DIGESTS:
                raise Rejection("bad_alg", f"hash algorithm {algorithm} is not accepted")
            if len(imprint["hashed_message"].native) != ACCEPTED_DIGESTS[algorithm]:
                raise Rejection("bad_data_format", "the message imprint has the wrong length")
            policy = request["req_policy"].native
            if policy is not None and request["req_policy"].dotted != POLICY_OID:
                raise Rejection("unaccepted_policy", "only our own policy is served")
            if request["extensions"].native:
                raise Rejection("unaccepted_extensions", "no extensions are supported")
        except (ValueError, TypeError, KeyError):
            raise Rejection("bad_data_format", "the request is not a valid TimeStampReq") from None

    def stamp(self, request: tsp.TimeStampReq, now: datetime | None = None) -> Stamp:
        self.check(request)
        gen_time = (now or datetime.now(UTC)).replace(microsecond=0)
        serial = secrets.randbits(126) | 1 << 125  # unique per token (§2.4.2), at most 160 bits
        info: dict[str, object] = {
            "version": "v1",
            "policy": POLICY_OID,
            "message_imprint": tsp.MessageImprint.load(request["message_imprint"].dump()),
            "serial_number": serial,
            "gen_time": gen_time,
            "accuracy": {"seconds": 1},
            "tsa": asn1_x509.GeneralName.load(self._tsa_name),
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"]
        tst_info = der(tsp.TSTInfo(info))
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("message_digest", hashlib.sha256(tst_info).digest()),
                cms.CMSAttribute.load(self._signing_cert_attr),
            ]
        )
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": self._sid,
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": signed_attrs,
                "signature_algorithm": self._sig_alg,
                "signature": self._sign(der(signed_attrs)),
            }
        )
        signed_data = {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_info)},
            "signer_infos": [signer_info],
        }
        if request["cert_req"].native:
            signed_data["certificates"] = [
                cms.CertificateChoices(name="certificate", value=_asn1_cert(der)) for der in self._cert_ders
            ]
        token = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})
        # Hand out a freshly parsed token: it serialises from its bytes, wherever the caller embeds it.
        return Stamp(token=settle(token), serial=serial, gen_time=gen_time)

    def respond(self, request_der: bytes) -> bytes:
        """The HTTP endpoint's work: DER TimeStampReq → DER TimeStampResp, rejections included."""
        try:
            if len(request_der) > MAX_REQUEST_BYTES:
                raise Rejection("bad_request", "the request is too large")
            try:
                request = tsp.TimeStampReq.load(request_der, strict=True)
                request.native  # noqa: B018 - parse everything now, so malformed input is a rejection here
            except (ValueError, TypeError):
                raise Rejection("bad_data_format", "the request is not a valid TimeStampReq") from None
            granted = self.stamp(request)
        except Rejection as exc:
            return rejection(exc)
        return _Response({"status": {"status": "granted"}, "time_stamp_token": granted.token}).dump()  # type: ignore[no-any-return]


def rejection(exc: Rejection) -> bytes:
    status = tsp.PKIStatusInfo({"status": "rejection", "status_string": [exc.text], "fail_info": {exc.fail_info}})
    return _Response({"status": status}).dump()  # type: ignore[no-any-return]


class InProcessTimeStamper(TimeStamper):  # type: ignore[misc]
    """pyHanko's TimeStamper port, answered by our TSA in this process (no HTTP round trip)."""

    def __init__(self, authority: TimeStampAuthority) -> None:
        super().__init__(include_nonce=True)
        self._authority = authority

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        token = self._authority.stamp(req).token
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
