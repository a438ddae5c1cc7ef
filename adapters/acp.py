"""UnionPay ACP 5.1.0 message rules (signMethod 01): signing, verification, customerInfo, the response format.

- Signing: every field but `signature`, empty ones dropped, sorted by name, joined `k=v&...` without URL encoding;
  digest = lower-case hex SHA-256 of that string; signature = Base64(SHA256withRSA(key, digest-hex bytes));
  `certId` = the signing certificate's serial number in decimal.
- Responses carry the signer's certificate in `signPubKeyCert`; it must chain to UnionPay's root through the
  middle certificate, be in its validity period, and name UnionPay in the third `@`-part of its CN.
- Responses are `k=v&...` *without* URL encoding; a value may hold `&` and `=` inside `{...}` or `[...]`.
- Sensitive data (card number, phone) is RSA-encrypted (PKCS#1 v1.5) to UnionPay's encryption certificate,
  Base64; the request then names that certificate in `encryptCertId`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

__all__ = [
    "UNIONPAY_CN",
    "TEST_CN",
    "link_string",
    "sign_fields",
    "verify_fields",
    "cert_id",
    "encrypt_sensitive",
    "decrypt_sensitive",
    "customer_info",
    "parse_customer_info",
    "format_kv",
    "parse_kv",
    "verify_sign_cert",
    "CertificateRejected",
]

UNIONPAY_CN = "中国银联股份有限公司"
TEST_CN = "00040000:SIGN"


class CertificateRejected(Exception):
    """signPubKeyCert is not UnionPay's signing certificate."""


def link_string(fields: Mapping[str, str]) -> str:
    return "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "signature")


def _digest_hex(fields: Mapping[str, str]) -> bytes:
    return hashlib.sha256(link_string(fields).encode("utf-8")).hexdigest().encode("ascii")


def sign_fields(fields: Mapping[str, str], key: rsa.RSAPrivateKey, signer_cert_id: str | None) -> dict[str, str]:
    """`fields` (empty values dropped) plus `certId` (requests; answers name their signer by signPubKeyCert
    instead, so pass None) and `signature`."""
    out = {k: v for k, v in fields.items() if v != "" and k != "signature"}
    if signer_cert_id is not None:
        out["certId"] = signer_cert_id
    out["signature"] = base64.b64encode(key.sign(_digest_hex(out), padding.PKCS1v15(), hashes.SHA256())).decode()
    return out


def verify_fields(fields: Mapping[str, str], public_key: rsa.RSAPublicKey) -> bool:
    try:
        sig = base64.b64decode(fields.get("signature", ""), validate=True)
        public_key.verify(sig, _digest_hex(fields), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def cert_id(cert: x509.Certificate) -> str:
    return str(cert.serial_number)


def encrypt_sensitive(text: str, encrypt_cert: x509.Certificate) -> str:
    key = encrypt_cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("UnionPay's encryption certificate must hold an RSA key")
    return base64.b64encode(key.encrypt(text.encode("utf-8"), padding.PKCS1v15())).decode()


def decrypt_sensitive(value: str, key: rsa.RSAPrivateKey) -> str:
    return key.decrypt(base64.b64decode(value), padding.PKCS1v15()).decode("utf-8")


def customer_info(id_number: str, name: str, phone: str, encrypt_cert: x509.Certificate) -> str:
    """Base64 of `{certifTp=01&certifId=..&customerNm=..&encryptedInfo=<enc(phoneNo=..)>}` (01 = resident ID)."""
    encrypted = encrypt_sensitive(f"phoneNo={phone}", encrypt_cert)
    plain = f"{{certifTp=01&certifId={id_number}&customerNm={name}&encryptedInfo={encrypted}}}"
    return base64.b64encode(plain.encode("utf-8")).decode()


def parse_customer_info(value: str, decrypt_key: rsa.RSAPrivateKey | None = None) -> dict[str, str]:
    """The provider's side of `customer_info`; with `decrypt_key` the encrypted part is opened and merged."""
    text = base64.b64decode(value, validate=True).decode("utf-8")
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError("customerInfo is not a {...} field")
    fields = parse_kv(text[1:-1])
    encrypted = fields.pop("encryptedInfo", None)
    if encrypted is not None and decrypt_key is not None:
        fields.update(parse_kv(decrypt_sensitive(encrypted, decrypt_key)))
    return fields


def format_kv(fields: Mapping[str, str]) -> str:
    """The response body as UnionPay writes it: sorted `k=v&...`, no URL encoding."""
    return "&".join(f"{k}={fields[k]}" for k in sorted(fields))


def parse_kv(text: str) -> dict[str, str]:
    """Split `k=v&...` where a value may contain `&`/`=` inside one `{...}` or `[...]` group (SDK rules)."""
    fields: dict[str, str] = {}
    key: str | None = None
    buf: list[str] = []
    closing: str | None = None
    for ch in text:
        if key is None:
            if ch == "=":
                key, buf = "".join(buf), []
            elif ch == "&":
                if buf:
                    raise ValueError("a field without `=`")
            else:
                buf.append(ch)
            continue
        if closing is not None:
            if ch == closing:
                closing = None
        elif ch == "{":
            closing = "}"
        elif ch == "[":
            closing = "]"
        if ch == "&" and closing is None:
            fields[key] = "".join(buf)
            key, buf = None, []
        else:
            buf.append(ch)
    if key is not None:
        fields[key] = "".join(buf)
    elif buf:
        raise ValueError("a field without `=`")
    return fields


def _cn(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def verify_sign_cert(
    pem: str,
    root: x509.Certificate,
    middle: x509.Certificate,
    strict_cn: bool = True,
    now: datetime | None = None,
) -> rsa.RSAPublicKey:
    """Check `signPubKeyCert` as the ACP SDK does and return its public key; CertificateRejected otherwise."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise CertificateRejected("signPubKeyCert is not a PEM certificate") from exc
    moment = now or datetime.now(UTC)
    for c, what in ((cert, "signing"), (middle, "middle"), (root, "root")):
        if not (c.not_valid_before_utc <= moment <= c.not_valid_after_utc):
            raise CertificateRejected(f"the {what} certificate is outside its validity period")
    try:
        middle.verify_directly_issued_by(root)
        cert.verify_directly_issued_by(middle)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CertificateRejected("signPubKeyCert does not chain to the configured UnionPay root") from exc
    parts = _cn(cert).split("@")
    owner = parts[2] if len(parts) > 2 else ""
    allowed = {UNIONPAY_CN} if strict_cn else {UNIONPAY_CN, TEST_CN}
    if owner not in allowed:
        raise CertificateRejected("signPubKeyCert does not belong to UnionPay")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise CertificateRejected("signPubKeyCert does not hold an RSA key")
    return key
