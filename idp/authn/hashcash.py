"""A hashcash-style proof of work (a small cost per SMS requested, paid by whoever asks).

The challenge is a keyed hash of the journey and its last send, so each send of a journey needs a new proof
and a proof can't be computed ahead for journeys not yet started. A nonce proves the work when
SHA-256(challenge ":" nonce) starts with `bits` zero bits; the sign-in page finds one in JavaScript
(idp/web/static/login.js) while the person types. About 2**bits hashes: 16 bits is a second or two on a phone,
and the same second for every one of an attacker's requests.
"""

from __future__ import annotations

import hashlib

from keys.protector import Protector

MAX_NONCE = 32


def challenge(protector: Protector, flow_id: str, last_send: str, browser: str) -> str:
    return protector.index("sms_pow", f"{flow_id}|{last_send}|{browser}")[:32]


def solved(challenge_: str, nonce: str, bits: int) -> bool:
    if not nonce or len(nonce) > MAX_NONCE or not nonce.isascii() or not nonce.isalnum():
        return False
    digest = hashlib.sha256(f"{challenge_}:{nonce}".encode()).digest()
    return int.from_bytes(digest, "big") >> (256 - bits) == 0
