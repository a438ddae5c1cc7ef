"""UnionPay ACP 5.1.0 signatures (signMethod 01), as the gateway makes and checks them.

Every field but `signature` with a non-empty value, sorted by name, joined `name=value` with `&` (no URL
encoding); the lower-case hex SHA-256 of that text, as ASCII bytes, is signed with SHA256withRSA
(PKCS#1 v1.5) and the signature Base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def signed_bytes(fields: Mapping[str, str]) -> bytes:
    text = "&".join(f"{name}={fields[name]}" for name in sorted(fields) if name != "signature" and fields[name])
    return hashlib.sha256(text.encode("utf-8")).hexdigest().encode("ascii")


def sign(fields: Mapping[str, str], key: rsa.RSAPrivateKey) -> dict[str, str]:
    """The fields with empty ones dropped and `signature` added."""
    out = {name: value for name, value in fields.items() if value and name != "signature"}
    out["signature"] = base64.b64encode(key.sign(signed_bytes(out), padding.PKCS1v15(), hashes.SHA256())).decode()
    return out


def verified(fields: Mapping[str, str], key: rsa.RSAPublicKey) -> bool:
    try:
        raw = base64.b64decode(fields.get("signature", ""), validate=True)
        key.verify(raw, signed_bytes(fields), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
