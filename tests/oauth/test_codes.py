"""Authorization codes: single use, replay revokes what the code issued; state, iss and nonce round-trip."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.oauth.conftest import ISSUER, Bench, query_of


def claims_of(jwt_text: str) -> dict[str, Any]:
    payload = jwt_text.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_state_and_iss_are_returned(bench: Bench) -> None:
    result = bench.code_flow()
    assert result["state"] == result["_state_sent"]
    assert result["iss"] == ISSUER


def test_error_responses_carry_iss_and_state(bench: Bench) -> None:
    response = bench.authorize(**bench.auth_params(prompt="none", state="s-err"))
    params = query_of(response.headers["location"])
    assert params["error"] == "login_required" and params["state"] == "s-err" and params["iss"] == ISSUER


def test_nonce_is_in_the_id_token(bench: Bench) -> None:
    result = bench.code_flow()
    token = bench.exchange(result["code"]).json()
    claims = claims_of(token["id_token"])
    assert claims["nonce"] == result["_nonce_sent"]
    assert claims["aud"] == bench.rp.client_id and claims["iss"] == ISSUER
    assert {"sub", "exp", "iat", "auth_time", "acr", "amr", "sid", "at_hash"} <= claims.keys()


def test_access_token_follows_rfc9068(bench: Bench) -> None:
    token = bench.tokens()
    header = json.loads(base64.urlsafe_b64decode(token["access_token"].split(".")[0] + "=="))
    claims = claims_of(token["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
    assert {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "acr", "auth_time"} <= claims.keys()


def test_code_is_single_use_and_replay_revokes_its_tokens(bench: Bench) -> None:
    result = bench.code_flow()
    first = bench.exchange(result["code"])
    assert first.status_code == 200
    tokens = first.json()
    auth = (bench.rp.client_id, bench.rp.client_secret or "")
    assert bench.client.post("/introspect", data={"token": tokens["access_token"]}, auth=auth).json()["active"]

    replay = bench.exchange(result["code"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert bench.client.post("/introspect", data={"token": tokens["access_token"]}, auth=auth).json() == {
        "active": False
    }
    refreshed = bench.client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth=auth
    )
    assert refreshed.status_code == 400


def test_code_bound_to_its_client(bench: Bench) -> None:
    other = bench.register(name="另一个部门")
    result = bench.code_flow()
    response = bench.exchange(result["code"], other)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_code_bound_to_its_redirect_uri(bench: Bench) -> None:
    result = bench.code_flow()
    response = bench.client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": "https://rp.example/other",
            "code_verifier": bench.verifier,
        },
        auth=(bench.rp.client_id, bench.rp.client_secret or ""),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
