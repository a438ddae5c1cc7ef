"""Tencent Cloud API 3.0 TC3-HMAC-SHA256, as the gateway checks it.

CanonicalRequest: method, URI, query, one `name:value` line per signed header (lower-case names, sorted; values
trimmed and lower-cased), an empty line's worth of separator, the signed header names joined by `;`, and the
hex SHA-256 of the body, joined by newlines. StringToSign: `TC3-HMAC-SHA256`, the timestamp, the scope
`<UTC date>/<service>/tc3_request` and the hex SHA-256 of the canonical request. The key is derived by HMACs
of the date, the service and `tc3_request` starting from `TC3` + SecretKey; the signature is hex.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

_HEADER = re.compile(
    r"TC3-HMAC-SHA256 Credential=([^/\s,]+)/(\d{4}-\d{2}-\d{2})/([a-z0-9]+)/tc3_request,\s*"
    r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})"
)


@dataclass(frozen=True)
class Credential:
    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def credential(authorization: str) -> Credential | None:
    found = _HEADER.fullmatch(authorization.strip())
    if found is None:
        return None
    sid, date, service, names, sig = found.groups()
    return Credential(sid, date, service, tuple(names.split(";")), sig)


def date_of(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def canonical_request(
    method: str, uri: str, query: str, headers: Mapping[str, str], signed: tuple[str, ...], body: bytes
) -> str:
    """KeyError when a signed header is absent."""
    by_name = {name.lower(): value for name, value in headers.items()}
    names = sorted(name.lower() for name in signed)
    lines = "".join(name + ":" + by_name[name].strip().lower() + "\n" for name in names)
    return f"{method.upper()}\n{uri}\n{query}\n{lines}\n{';'.join(names)}\n{hashlib.sha256(body).hexdigest()}"


def expected(secret_key: str, timestamp: int, service: str, canonical: str) -> str:
    date = date_of(timestamp)
    scope = f"{date}/{service}/tc3_request"
    text = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    key = ("TC3" + secret_key).encode("utf-8")
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
