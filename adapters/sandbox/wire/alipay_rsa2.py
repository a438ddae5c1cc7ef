"""Alipay Open Platform RSA2, as the gateway checks requests and signs its answers.

Request: every parameter but `sign` with a non-empty value, sorted by name, joined `name=value` with `&` (not
URL-encoded), UTF-8, verified with SHA256withRSA (PKCS#1 v1.5) against the app's public key. Answer: the raw
JSON text of the `<method>_response` member, signed the same way with the platform's key.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def content(params: Mapping[str, str]) -> bytes:
    pairs = sorted((name, value) for name, value in params.items() if name != "sign" and value)
    return "&".join(f"{name}={value}" for name, value in pairs).encode("utf-8")


def verified(params: Mapping[str, str], key: rsa.RSAPublicKey) -> bool:
    try:
        raw = base64.b64decode(params.get("sign", ""), validate=True)
        key.verify(raw, content(params), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def sign_text(text: str, key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode("ascii")
