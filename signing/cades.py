"""The CMS signature inside a PAdES signature: CAdES baseline (ETSI EN 319 122-1 §5), encoded directly.

PAdES (ETSI EN 319 142-1 §6.3) wants a detached SignedData (RFC 5652 §5) whose signed attributes are
content-type, message-digest and ESS signing-certificate-v2 (RFC 5035) — and no signing-time: the time goes
in the PDF signature dictionary — plus, for B-T, a signature time-stamp token (RFC 3161 Appendix A) as an
unsigned attribute over the signature value.

Everything except the message digest, the signature and the time-stamp is the same for every signature made
with one certificate, so `CadesTemplate` encodes it once; a signature then costs a few byte concatenations.
pyHanko's generic builder constructs and re-encodes the whole asn1crypto tree every time, which is most of
its per-signature cost (and, through wbond/asn1crypto#256, occasionally tens of seconds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import TimeStamper

from signing.asn1 import der

ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_DATA = "1.2.840.113549.1.7.1"
ID_AA_SIGNATURE_TIME_STAMP_TOKEN = "1.2.840.113549.1.9.16.2.14"


def tlv(tag: int, content: bytes) -> bytes:
    """One DER type-length-value (X.690 §8.1), definite length."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _oid(dotted: str) -> bytes:
    return core.ObjectIdentifier(dotted).dump()  # type: ignore[no-any-return]


def set_of(items: list[bytes]) -> bytes:
    """SET OF, components in ascending order of their encodings (X.690 §11.6)."""
    return tlv(0x31, b"".join(sorted(items)))


class CadesTemplate:
    """What stays the same for every signature by one certificate, encoded once."""

    def __init__(
        self, cert: asn1_x509.Certificate, chain: list[asn1_x509.Certificate], signature_algorithm: str
    ) -> None:
        self.cert = cert
        self._content_type = der(simple_cms_attribute("content_type", "data"))
        self._signing_certificate = der(simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(cert)))
        self._sid = der(
            cms.SignerIdentifier(
                {"issuer_and_serial_number": {"issuer": cert.issuer, "serial_number": cert.serial_number}}
            )
        )
        self._digest_algorithm = der(algos.DigestAlgorithm({"algorithm": "sha256"}))
        self._signature_algorithm = der(algos.SignedDigestAlgorithm({"algorithm": signature_algorithm}))
        ders = {c.dump() for c in [cert, *chain]}
        # certificates [0] IMPLICIT CertificateSet: a SET OF, sorted like any other.
        self._certificates = tlv(0xA0, b"".join(sorted(ders)))

    def signed_attributes(self, document_digest: bytes) -> bytes:
        """DER of the signed attributes as they are signed (a SET OF, RFC 5652 §5.4)."""
        digest = der(simple_cms_attribute("message_digest", document_digest))
        return set_of([self._content_type, digest, self._signing_certificate])

    def signed_data(self, signed_attrs: bytes, signature: bytes, timestamp_token: bytes | None) -> bytes:
        """The ContentInfo: SignedData with one SignerInfo (RFC 5652 §5.1, §5.3)."""
        signer_info = [
            core.Integer(1).dump(),
            self._sid,
            self._digest_algorithm,
            b"\xa0" + signed_attrs[1:],  # [0] IMPLICIT: same content, context tag instead of SET
            self._signature_algorithm,
            core.OctetString(signature).dump(),
        ]
        if timestamp_token is not None:
            attribute = tlv(0x30, _oid(ID_AA_SIGNATURE_TIME_STAMP_TOKEN) + set_of([timestamp_token]))
            signer_info.append(tlv(0xA1, attribute))  # [1] IMPLICIT unsignedAttrs, one attribute
        signed_data = tlv(
            0x30,
            core.Integer(1).dump()
            + set_of([self._digest_algorithm])
            + tlv(0x30, _oid(ID_DATA))  # detached: eContent absent
            + self._certificates
            + set_of([tlv(0x30, b"".join(signer_info))]),
        )
        return tlv(0x30, _oid(ID_SIGNED_DATA) + tlv(0xA0, signed_data))

    async def sign(
        self,
        document_digest: bytes,
        raw_sign: Callable[[bytes], Awaitable[bytes]],
        timestamper: TimeStamper | None,
    ) -> bytes:
        attrs = self.signed_attributes(document_digest)
        signature = await raw_sign(attrs)
        token = None
        if timestamper is not None:
            stamp = await timestamper.async_timestamp(hashlib.sha256(signature).digest(), "sha256")
            token = der(stamp)
        return self.signed_data(attrs, signature, token)
