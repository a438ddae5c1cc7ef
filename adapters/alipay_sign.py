"""Alipay Open Platform RSA2 (SHA256withRSA, PKCS#1 v1.5) signing and response verification.

- Request: drop `sign` and empty values, sort by name, join `k=v&...` (UTF-8, not URL-encoded), sign, Base64.
- Response: `{"<method with . → _>_response": {...}, "sign": "..."}` (or `error_response`); the signature covers
  the *raw text* of that member exactly as received — never re-serialise it (key order, spacing and escapes
  would change).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["sign_content", "sign_text", "sign", "verify", "response_member", "RawMember", "extract_member"]


def sign_content(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")


def sign_text(text: str, key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()


def sign(params: Mapping[str, str], key: rsa.RSAPrivateKey) -> str:
    return sign_text(sign_content(params), key)


def verify(content: str, signature: str, public_key: rsa.RSAPublicKey) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def response_member(method: str) -> str:
    return method.replace(".", "_") + "_response"


@dataclass(frozen=True)
class RawMember:
    name: str
    raw: str
    value: dict[str, object]
    sign: str | None


def extract_member(text: str, names: tuple[str, ...]) -> RawMember:
    """Find the first of `names` among the top-level members of `text` and return its raw JSON text.

    Walks the top-level object with the standard decoder and slices the original text between the positions
    it reports, so the raw text is byte-for-byte what the server signed. ValueError when absent or malformed.
    """
    decoder = json.JSONDecoder()
    i = _skip_ws(text, 0)
    if i >= len(text) or text[i] != "{":
        raise ValueError("not a JSON object")
    i += 1
    members: dict[str, tuple[str, object]] = {}
    while True:
        i = _skip_ws(text, i)
        if i < len(text) and text[i] == "}":
            break
        key, i = decoder.raw_decode(text, i)
        if not isinstance(key, str):
            raise ValueError("member name is not a string")
        i = _skip_ws(text, i)
        if i >= len(text) or text[i] != ":":
            raise ValueError("expected ':'")
        i = _skip_ws(text, i + 1)
        start = i
        value, i = decoder.raw_decode(text, i)
        members[key] = (text[start:i], value)
        i = _skip_ws(text, i)
        if i < len(text) and text[i] == ",":
            i += 1
            continue
        if i < len(text) and text[i] == "}":
            break
        raise ValueError("expected ',' or '}'")
    sign_value = members.get("sign", (None, None))[1]
    for name in names:
        if name in members:
            raw, value = members[name]
            if not isinstance(value, dict):
                raise ValueError(f"{name} is not an object")
            return RawMember(name, raw, value, sign_value if isinstance(sign_value, str) else None)
    raise ValueError(f"none of {', '.join(names)} in the response")


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i
