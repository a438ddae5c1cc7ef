"""The population registry's side of our YW1-HMAC-SHA256 exchange (adapters/population-registry.md).

Request: `Authorization: YW1-HMAC-SHA256 KeyId=…, Timestamp=…, Nonce=<32 hex>, Signature=<64 hex>`, the
signature an HMAC-SHA256 (hex) of the lines `YW1-HMAC-SHA256`, method, path, timestamp, nonce and the hex
SHA-256 of the body. Answer: `X-Registry-Signature: Timestamp=…, Signature=…` over the lines
`YW1-HMAC-SHA256-RESPONSE`, the request's nonce, the status, the timestamp and the body's hex SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

_HEADER = re.compile(
    r"YW1-HMAC-SHA256 KeyId=([A-Za-z0-9._-]{1,64}), Timestamp=(\d{1,12}), Nonce=([0-9a-f]{32}), "
    r"Signature=([0-9a-f]{64})"
)


@dataclass(frozen=True)
class Signed:
    key_id: str
    timestamp: int
    nonce: str
    signature: str


def signed(authorization: str) -> Signed | None:
    found = _HEADER.fullmatch(authorization.strip())
    if found is None:
        return None
    return Signed(found[1], int(found[2]), found[3], found[4])


def _mac(secret: bytes, *lines: object) -> str:
    return hmac.new(secret, "\n".join(str(line) for line in lines).encode("utf-8"), hashlib.sha256).hexdigest()


def verified(secret: bytes, method: str, path: str, auth: Signed, body: bytes) -> bool:
    want = _mac(
        secret, "YW1-HMAC-SHA256", method.upper(), path, auth.timestamp, auth.nonce, hashlib.sha256(body).hexdigest()
    )
    return hmac.compare_digest(want, auth.signature)


def answer_header(secret: bytes, request_nonce: str, status: int, timestamp: int, body: bytes) -> str:
    sig = _mac(secret, "YW1-HMAC-SHA256-RESPONSE", request_nonce, status, timestamp, hashlib.sha256(body).hexdigest())
    return f"Timestamp={timestamp}, Signature={sig}"
