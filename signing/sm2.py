"""SM2 signatures (GB/T 32918.2) with SM3 digests (GB/T 32905), signer ID as GM/T 0009 sets it.

Library: `tongsuopy` (Tongsuo's Python SDK, a fork of pyca/cryptography on the Tongsuo/BabaSSL C library).
Measured on this machine, one core: tongsuopy ≈2,400 SM2 signatures/s and ≈3,150 verifications/s; `gmssl`
(pure Python, the most downloaded alternative) ≈115 signatures/s, twenty times slower and with no
constant-time arithmetic. `gmssl-python`/`pygmssl` need the GmSSL shared library, which neither PyPI nor
Debian provides here. pyca/cryptography has SM3 and SM4 but no SM2. So: tongsuopy for SM2, cryptography's
SM3 for digests (both are the same standard algorithm; the SM3 vectors of GB/T 32905 are checked in tests).

Tongsuo hashes the signer's Z value (GB/T 32918.2 §5.5) with the default ID `1234567812345678`
(GM/T 0009-2012 §10), which is exactly what `openssl ... -sigopt distid:1234567812345678` checks.
Signatures are DER `SEQUENCE { r, s }` (GB/T 35276 §7.3), not raw r‖s.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes as _hashes
from tongsuopy.crypto import hashes, serialization  # type: ignore[import-untyped]
from tongsuopy.crypto.asymciphers import ec  # type: ignore[import-untyped]
from tongsuopy.crypto.exceptions import InvalidSignature  # type: ignore[import-untyped]

SM3_OID = "1.2.156.10197.1.401"
SM2_SM3_OID = "1.2.156.10197.1.501"  # SM3withSM2 (GM/T 0006)
SM2_CURVE_OID = "1.2.156.10197.1.301"
DEFAULT_ID = b"1234567812345678"

PrivateKey = Any  # tongsuopy ships no type information: these aliases document intent
PublicKey = Any


def sm3(data: bytes) -> bytes:
    digest = _hashes.Hash(_hashes.SM3())
    digest.update(data)
    return digest.finalize()


def generate() -> PrivateKey:
    return ec.generate_private_key(ec.SM2())


def sign(key: PrivateKey, data: bytes) -> bytes:
    """SM3withSM2 over `data` (Z computed with the default ID): DER SEQUENCE {r, s}."""
    return bytes(key.sign(data, ec.ECDSA(hashes.SM3())))


def verify(public: PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public.verify(signature, data, ec.ECDSA(hashes.SM3()))
    except (InvalidSignature, ValueError):
        return False
    return True


def private_der(key: PrivateKey) -> bytes:
    return bytes(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def load_private(der: bytes) -> PrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key.curve, ec.SM2):
        raise ValueError("not an SM2 key")
    return key


def spki(public: PublicKey) -> bytes:
    """SubjectPublicKeyInfo DER (id-ecPublicKey with the SM2 curve OID, as GM/T 0015 certificates carry it)."""
    return bytes(public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def load_public(spki_der: bytes) -> PublicKey:
    key = serialization.load_der_public_key(spki_der)
    if not isinstance(key.curve, ec.SM2):
        raise ValueError("not an SM2 public key")
    return key


def public_from_point(x: int, y: int) -> PublicKey:
    return ec.EllipticCurvePublicNumbers(x, y, ec.SM2()).public_key()
