"""Envelope encryption with AES-256-GCM, and HMAC-SHA256 blind indexes.

Data keys are random 256-bit keys wrapped under the master key. A field value is encrypted under a data key
with associated data naming its table, column and row, so a ciphertext copied to another row or column fails
to decrypt instead of silently moving personal data around.

Field ciphertext layout: ``0x01 | key version (4 bytes, big endian) | nonce (12) | ciphertext + tag``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT = 1
_HEADER = struct.Struct(">BI")
_NONCE = 12


class DecryptionError(Exception):
    """A ciphertext is malformed, under an unknown key, or was not made for this place (AAD mismatch)."""


def new_data_key() -> bytes:
    return secrets.token_bytes(32)


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < _NONCE + 16:
        raise DecryptionError("ciphertext too short")
    try:
        return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], aad)
    except InvalidTag:
        raise DecryptionError("ciphertext does not authenticate") from None


def wrap_key(master: bytes, key: bytes, label: str) -> bytes:
    """Encrypt `key` under `master`; `label` (e.g. ``data-key/3``) is bound as associated data."""
    return _seal(master, key, label.encode())


def unwrap_key(master: bytes, wrapped: bytes, label: str) -> bytes:
    return _open(master, wrapped, label.encode())


class FieldCipher:
    """Encrypts field values under the active data key; decrypts under whichever version made them."""

    def __init__(self, keys: Mapping[int, bytes], active: int) -> None:
        if active not in keys:
            raise ValueError(f"active key version {active} is not among the loaded keys")
        self._keys = dict(keys)
        self.active = active

    @property
    def versions(self) -> frozenset[int]:
        return frozenset(self._keys)

    def encrypt(self, plaintext: str, aad: str) -> bytes:
        header = _HEADER.pack(_FORMAT, self.active)
        return header + _seal(self._keys[self.active], plaintext.encode(), header + aad.encode())

    def decrypt(self, blob: bytes, aad: str) -> str:
        version = key_version(blob)
        key = self._keys.get(version)
        if key is None:
            raise DecryptionError(f"no data key version {version}")
        header = blob[: _HEADER.size]
        return _open(key, blob[_HEADER.size :], header + aad.encode()).decode()


def key_version(blob: bytes) -> int:
    """The data-key version a field ciphertext was made with."""
    if len(blob) < _HEADER.size:
        raise DecryptionError("ciphertext too short")
    fmt, version = _HEADER.unpack_from(blob)
    if fmt != _FORMAT:
        raise DecryptionError(f"unknown ciphertext format {fmt}")
    return int(version)


def blind_index(index_key: bytes, domain: str, normalized: str) -> str:
    """HMAC-SHA256 of a normalised value, domain-separated so equal values in two fields don't link."""
    mac = hmac.new(index_key, domain.encode() + b"\x00" + normalized.encode(), hashlib.sha256)
    return mac.hexdigest()
