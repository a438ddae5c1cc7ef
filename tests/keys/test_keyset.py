"""Token signing keys: thumbprint kids, sealed private keys, rotation with overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

import keys

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_generated_key_signs_and_its_public_half_verifies(alg: str) -> None:
    master = keys.new_data_key()
    material = keys.generate_signing_key(alg, master, NOW)
    private = keys.load_private_key(material, master)
    token = jwt.encode({"alg": alg, "kid": material.kid}, {"sub": "s"}, private, algorithms=[alg])
    public = KeySet.import_key_set({"keys": [material.public_jwk]})
    assert jwt.decode(token, public, algorithms=[alg]).claims["sub"] == "s"
    assert "d" not in material.public_jwk
    assert material.public_jwk["kid"] == private.thumbprint()
    assert b"PRIVATE KEY" not in material.sealed_private_key


def test_sealed_key_needs_the_master_key() -> None:
    material = keys.generate_signing_key("ES256", keys.new_data_key(), NOW)
    with pytest.raises(keys.DecryptionError):
        keys.load_private_key(material, keys.new_data_key())


def test_unsupported_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        keys.generate_signing_key("HS256", keys.new_data_key(), NOW)


def test_rotation_keeps_the_retired_key_published_until_its_tokens_expire() -> None:
    master = keys.new_data_key()
    old = keys.generate_signing_key("ES256", master, NOW - DAY)
    new = keys.generate_signing_key("ES256", master, NOW)
    retired = keys.SigningKeyMaterial(**{**old.__dict__, "retired_at": NOW})

    assert keys.signing_candidate([retired, new], "ES256") == new
    assert keys.signing_candidate([retired], "ES256") is None
    assert {k.kid for k in keys.published([retired, new], NOW + DAY - timedelta(seconds=1), DAY)} == {
        old.kid,
        new.kid,
    }
    assert {k.kid for k in keys.published([retired, new], NOW + DAY, DAY)} == {new.kid}
