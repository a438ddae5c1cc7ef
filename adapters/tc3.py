"""Tencent Cloud API 3.0 signature v3, TC3-HMAC-SHA256.

CanonicalRequest = Method \\n CanonicalURI \\n CanonicalQueryString \\n CanonicalHeaders \\n SignedHeaders \\n
                   hex(SHA256(payload))
CanonicalHeaders = for each signed header, sorted: lower(name) ":" lower(trimmed value) "\\n"
StringToSign     = "TC3-HMAC-SHA256" \\n timestamp \\n <UTC date>/<service>/tc3_request \\n hex(SHA256(CanonicalRequest))
kDate = HMAC("TC3" + SecretKey, date); kService = HMAC(kDate, service); kSigning = HMAC(kService, "tc3_request")
Signature = hex(HMAC(kSigning, StringToSign))
Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<scope>, SignedHeaders=<h1;h2>, Signature=<hex>
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "ALGORITHM",
    "canonical_request",
    "credential_scope",
    "string_to_sign",
    "signature",
    "authorization",
    "Authorization",
    "parse_authorization",
]

ALGORITHM = "TC3-HMAC-SHA256"


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_headers(headers: Mapping[str, str], signed: list[str]) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    return "".join(f"{name}:{lowered[name].strip().lower()}\n" for name in sorted(signed))


def canonical_request(
    method: str, uri: str, query: str, headers: Mapping[str, str], signed: list[str], payload: bytes
) -> str:
    names = sorted(h.lower() for h in signed)
    return "\n".join(
        [method.upper(), uri, query, canonical_headers(headers, names), ";".join(names), _sha256_hex(payload)]
    )


def utc_date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def credential_scope(timestamp: int, service: str) -> str:
    return f"{utc_date(timestamp)}/{service}/tc3_request"


def string_to_sign(timestamp: int, service: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{timestamp}\n{credential_scope(timestamp, service)}\n{_sha256_hex(canonical.encode())}"


def signature(secret_key: str, timestamp: int, service: str, canonical: str) -> str:
    k_date = _hmac(f"TC3{secret_key}".encode(), utc_date(timestamp))
    k_signing = _hmac(_hmac(k_date, service), "tc3_request")
    return hmac.new(k_signing, string_to_sign(timestamp, service, canonical).encode(), hashlib.sha256).hexdigest()


def authorization(secret_id: str, secret_key: str, timestamp: int, service: str, canonical: str) -> str:
    signed = canonical.split("\n")[-2]
    sig = signature(secret_key, timestamp, service, canonical)
    scope = credential_scope(timestamp, service)
    return f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed}, Signature={sig}"


@dataclass(frozen=True)
class Authorization:
    secret_id: str
    date: str
    service: str
    signed_headers: list[str]
    signature: str


_AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/\s,]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z0-9]+)/tc3_request,"
    r" ?SignedHeaders=(?P<headers>[a-z0-9;-]+), ?Signature=(?P<sig>[0-9a-f]{64})$"
)


def parse_authorization(header: str) -> Authorization | None:
    """The provider's side: split an Authorization header, or None when it is not a TC3 header."""
    m = _AUTH_RE.match(header.strip())
    if not m:
        return None
    return Authorization(m["id"], m["date"], m["service"], m["headers"].split(";"), m["sig"])
