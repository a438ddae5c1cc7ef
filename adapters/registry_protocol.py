"""The population-registry exchange protocol (ours; see adapters/population-registry.md): HMAC-SHA256 both ways.

Request header  `Authorization: YW1-HMAC-SHA256 KeyId=<id>, Timestamp=<unix s>, Nonce=<32 hex>, Signature=<hex>`
  over  "YW1-HMAC-SHA256\\n<METHOD>\\n<path>\\n<timestamp>\\n<nonce>\\n<hex SHA-256 of body>".
Response header `X-Registry-Signature: Timestamp=<unix s>, Signature=<hex>`
  over  "YW1-HMAC-SHA256-RESPONSE\\n<request nonce>\\n<status>\\n<timestamp>\\n<hex SHA-256 of body>".
The response signature names the request's nonce, so an answer cannot be replayed onto another question.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

__all__ = [
    "SCHEME",
    "MAX_SKEW_S",
    "request_string",
    "response_string",
    "sign",
    "authorization_header",
    "parse_authorization",
    "RequestAuth",
    "response_header",
    "parse_response_header",
]

SCHEME = "YW1-HMAC-SHA256"
MAX_SKEW_S = 300


def _sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def request_string(method: str, path: str, timestamp: int, nonce: str, body: bytes) -> str:
    return f"{SCHEME}\n{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{_sha256_hex(body)}"


def response_string(request_nonce: str, status: int, timestamp: int, body: bytes) -> str:
    return f"{SCHEME}-RESPONSE\n{request_nonce}\n{status}\n{timestamp}\n{_sha256_hex(body)}"


def sign(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def matches(secret: bytes, text: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, text).encode(), signature.encode())


def authorization_header(
    key_id: str, secret: bytes, method: str, path: str, timestamp: int, nonce: str, body: bytes
) -> str:
    sig = sign(secret, request_string(method, path, timestamp, nonce, body))
    return f"{SCHEME} KeyId={key_id}, Timestamp={timestamp}, Nonce={nonce}, Signature={sig}"


@dataclass(frozen=True)
class RequestAuth:
    key_id: str
    timestamp: int
    nonce: str
    signature: str


_AUTH_RE = re.compile(
    rf"^{SCHEME} KeyId=(?P<key>[A-Za-z0-9._-]{{1,64}}), Timestamp=(?P<ts>\d{{1,12}}), "
    r"Nonce=(?P<nonce>[0-9a-f]{32}), Signature=(?P<sig>[0-9a-f]{64})$"
)


def parse_authorization(header: str) -> RequestAuth | None:
    m = _AUTH_RE.match(header.strip())
    if not m:
        return None
    return RequestAuth(m["key"], int(m["ts"]), m["nonce"], m["sig"])


def response_header(secret: bytes, request_nonce: str, status: int, timestamp: int, body: bytes) -> str:
    sig = sign(secret, response_string(request_nonce, status, timestamp, body))
    return f"Timestamp={timestamp}, Signature={sig}"


_RESP_RE = re.compile(r"^Timestamp=(?P<ts>\d{1,12}), Signature=(?P<sig>[0-9a-f]{64})$")


def parse_response_header(header: str) -> tuple[int, str] | None:
    m = _RESP_RE.match(header.strip())
    return (int(m["ts"]), m["sig"]) if m else None
