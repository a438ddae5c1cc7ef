"""What the sign-in page's JavaScript does before a send: find the proof of work for the page's challenge."""

from __future__ import annotations

import hashlib
import re


def solve(challenge: str, bits: int) -> str:
    n = 0
    while True:
        nonce = _base36(n)
        digest = hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()
        if int.from_bytes(digest, "big") >> (256 - bits) == 0:
            return nonce
        n += 1


def proof_for(page: str) -> str:
    """The proof for a sign-in page's challenge (its `proof` input's data-challenge and data-bits)."""
    found = re.search(r'name="proof" value="" data-challenge="([^"]+)" data-bits="(\d+)"', page)
    assert found, "no proof-of-work challenge on the page"
    return solve(found.group(1), int(found.group(2)))


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out
