"""Token signing key sets: generation, which key signs now, which keys stay published.

Rotation with overlap: a new key starts signing at once; the key it replaces is *retired* — it signs nothing
more but stays in the JWKS until every token it signed has expired (retired_at + the longest token lifetime).
Private keys leave this module only sealed under the master key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey, RSAKey

from keys.envelope import unwrap_key, wrap_key

SUPPORTED_ALGORITHMS = ("ES256", "RS256")


@dataclass(frozen=True)
class SigningKeyMaterial:
    kid: str
    alg: str
    public_jwk: dict[str, Any]
    sealed_private_key: bytes
    created_at: datetime
    retired_at: datetime | None = None


def _label(kid: str) -> str:
    return f"signing-key/{kid}"


def generate_signing_key(alg: str, master: bytes, now: datetime) -> SigningKeyMaterial:
    """A new key for `alg`; `kid` is its RFC 7638 thumbprint, so it names the key and nothing else."""
    if alg == "ES256":
        key: ECKey | RSAKey = ECKey.generate_key("P-256", private=True)
    elif alg == "RS256":
        key = RSAKey.generate_key(2048, private=True)
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r} (use {', '.join(SUPPORTED_ALGORITHMS)})")
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    sealed = wrap_key(master, key.as_pem(private=True), _label(kid))
    return SigningKeyMaterial(kid=kid, alg=alg, public_jwk=public, sealed_private_key=sealed, created_at=now)


def load_private_key(material: SigningKeyMaterial, master: bytes) -> ECKey | RSAKey:
    """Unseal once at start-up; callers keep the loaded key rather than parsing per request."""
    pem = unwrap_key(master, material.sealed_private_key, _label(material.kid))
    key_type = ECKey if material.alg == "ES256" else RSAKey
    return key_type.import_key(pem, {"kid": material.kid, "alg": material.alg, "use": "sig"})


def signing_candidate(keys: Iterable[SigningKeyMaterial], alg: str) -> SigningKeyMaterial | None:
    """The newest unretired key for `alg`."""
    live = [k for k in keys if k.alg == alg and k.retired_at is None]
    return max(live, key=lambda k: k.created_at, default=None)


def published(
    keys: Sequence[SigningKeyMaterial], now: datetime, max_token_lifetime: timedelta
) -> list[SigningKeyMaterial]:
    """Keys that belong in the JWKS: live ones, and retired ones whose tokens may still be valid."""
    return [k for k in keys if k.retired_at is None or k.retired_at + max_token_lifetime > now]
