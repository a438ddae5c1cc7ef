"""Algorithm allow-list wherever we validate tokens: `alg: none`, HS256 keyed with our public key, a key
smuggled in the header, a foreign signer — all refused at userinfo, introspection and logout."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.oauth.conftest import Bench, forge


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload = (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in token.split(".")[:2])
    return header, payload


def _our_public_pem(bench: Bench) -> bytes:
    jwk = bench.client.get("/jwks").json()["keys"][0]
    return ECKey.import_key(jwk).as_pem(private=False)


def _forgeries(bench: Bench, genuine: str) -> dict[str, str]:
    header, claims = _parts(genuine)
    attacker = ECKey.generate_key("P-256", private=True)
    smuggled = {**header, "jwk": attacker.as_dict(private=False)}
    return {
        "alg_none": forge({**header, "alg": "none"}, claims, None),
        "hs256_with_public_key": forge({**header, "alg": "HS256"}, claims, _our_public_pem(bench)),
        "jwk_header": jwt.encode(smuggled, claims, attacker, algorithms=["ES256"]),
        "foreign_signer_with_our_kid": jwt.encode(header, claims, attacker, algorithms=["ES256"]),
        "tampered_claims": genuine.split(".")[0]
        + "."
        + forge(header, {**claims, "scope": "openid id_card"}, None).split(".")[1]
        + "."
        + genuine.split(".")[2],
    }


@pytest.fixture
def genuine(bench: Bench) -> dict[str, Any]:
    return bench.tokens()


def test_userinfo_accepts_the_genuine_token(bench: Bench, genuine: dict[str, Any]) -> None:
    response = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {genuine['access_token']}"})
    assert response.status_code == 200 and response.json()["phone_number"] == "+8613800138000"


@pytest.mark.parametrize(
    "kind", ["alg_none", "hs256_with_public_key", "jwk_header", "foreign_signer_with_our_kid", "tampered_claims"]
)
def test_forged_access_tokens_are_refused_everywhere(bench: Bench, genuine: dict[str, Any], kind: str) -> None:
    forged = _forgeries(bench, genuine["access_token"])[kind]
    info = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {forged}"})
    assert info.status_code == 401 and info.json()["error"] == "invalid_token"
    assert "invalid_token" in info.headers["www-authenticate"]
    auth = (bench.rp.client_id, bench.rp.client_secret or "")
    assert bench.client.post("/introspect", data={"token": forged}, auth=auth).json() == {"active": False}


@pytest.mark.parametrize("kind", ["alg_none", "hs256_with_public_key", "jwk_header", "foreign_signer_with_our_kid"])
def test_forged_id_token_hint_is_refused_at_logout(bench: Bench, genuine: dict[str, Any], kind: str) -> None:
    forged = _forgeries(bench, genuine["id_token"])[kind]
    response = bench.client.get("/logout", params={"id_token_hint": forged})
    assert response.status_code == 400 and "location" not in response.headers


def test_oversized_token_is_refused(bench: Bench) -> None:
    response = bench.client.get("/userinfo", headers={"Authorization": "Bearer " + "a" * 20000 + ".b.c"})
    assert response.status_code == 401
