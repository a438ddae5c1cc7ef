"""Aliyun RPC signature v1 (HMAC-SHA1), as the gateway checks it.

Published algorithm: percent-encode each name and value as UTF-8 bytes keeping only A-Z a-z 0-9 `-_.~`
(upper-case hex), sort the pairs by name, join `name=value` with `&`; StringToSign is
`METHOD&%2F&` + that query percent-encoded once more; Signature = Base64(HMAC-SHA1(secret + "&", StringToSign)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def encode(text: str) -> str:
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    names = sorted(name for name in params if name != "Signature")
    query = "&".join(encode(name) + "=" + encode(params[name]) for name in names)
    return method.upper() + "&" + encode("/") + "&" + encode(query)


def expected(method: str, params: Mapping[str, str], secret: str) -> str:
    mac = hmac.new((secret + "&").encode("utf-8"), string_to_sign(method, params).encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def verified(method: str, params: Mapping[str, str], secret: str) -> bool:
    return hmac.compare_digest(params.get("Signature", "").encode(), expected(method, params, secret).encode())
