"""DPoP proofs (RFC 9449 §4.2) as a client makes them, with any claim or header overridden for a test."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

from joserfc import jws


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def proof(
    key: Any,
    htm: str,
    htu: str,
    *,
    nonce: str | None = None,
    token: str | None = None,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    alg = (header or {}).get("alg", "ES256")
    head = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False), **(header or {})}
    body: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": htm, "htu": htu, "iat": int(time.time())}
    if nonce:
        body["nonce"] = nonce
    if token:
        body["ath"] = _b64(hashlib.sha256(token.encode()).digest())
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jws.serialize_compact(head, json.dumps(body).encode(), key, algorithms=[alg])
