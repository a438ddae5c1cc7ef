"""Aliyun RPC-style request signature, version 1.0 (HMAC-SHA1), as used by Dysmsapi 2017-05-25.

1. Percent-encode every parameter name and value (RFC 3986 unreserved kept: A-Z a-z 0-9 - _ . ~; space is
   `%20`, `*` is `%2A`, UTF-8 bytes as upper-case `%XX`).
2. Sort by encoded name and join as `name=value&...` (the canonicalized query string).
3. StringToSign = `<METHOD>&%2F&` + percentEncode(canonicalized query string).
4. Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).

Pure functions: the adapter signs with them, the emulator verifies with them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote, unquote

__all__ = ["percent_encode", "canonical_query", "string_to_sign", "signature", "sign_params", "verify_params"]


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun wants it: only `A-Za-z0-9-_.~` stay as they are."""
    return quote(value, safe="~")


def percent_decode(value: str) -> str:
    return unquote(value)


def canonical_query(params: Mapping[str, str]) -> str:
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in params.items() if k != "Signature")
    return "&".join(f"{k}={v}" for k, v in pairs)


def string_to_sign(params: Mapping[str, str], method: str = "GET") -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def signature(secret: str, text: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_params(params: Mapping[str, str], secret: str, method: str = "GET") -> dict[str, str]:
    """`params` plus their `Signature`."""
    signed = dict(params)
    signed["Signature"] = signature(secret, string_to_sign(params, method))
    return signed


def verify_params(params: Mapping[str, str], secret: str, method: str = "GET") -> bool:
    """What the provider does: recompute the signature over everything but `Signature`, compare in constant time."""
    given = params.get("Signature", "")
    expected = signature(secret, string_to_sign(params, method))
    return hmac.compare_digest(given.encode(), expected.encode())
