"""PKCE: S256 only, required for public clients, and not downgradable (RFC 7636, RFC 9700 §4.8)."""

from __future__ import annotations

from tests.oauth.conftest import REDIRECT, Bench, pkce, query_of


def test_public_client_without_challenge_is_refused_at_authorize(bench: Bench) -> None:
    public = bench.register(auth_method="none")
    response = bench.authorize(**bench.auth_params(public, code_challenge="", code_challenge_method=""))
    assert response.status_code == 302
    params = query_of(response.headers["location"])
    assert params["error"] == "invalid_request" and "PKCE" in params["error_description"]


def test_plain_method_is_refused(bench: Bench) -> None:
    verifier, _ = pkce()
    response = bench.authorize(**bench.auth_params(code_challenge=verifier, code_challenge_method="plain"))
    assert query_of(response.headers["location"])["error"] == "invalid_request"


def test_challenge_without_method_is_refused(bench: Bench) -> None:
    response = bench.authorize(**bench.auth_params(code_challenge_method=""))
    assert query_of(response.headers["location"])["error"] == "invalid_request"


def test_wrong_verifier_is_refused(bench: Bench) -> None:
    result = bench.code_flow()
    response = bench.exchange(result["code"], verifier=pkce()[0])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_missing_verifier_is_refused_when_a_challenge_was_sent(bench: Bench) -> None:
    result = bench.code_flow()
    response = bench.client.post(
        "/token",
        data={"grant_type": "authorization_code", "code": result["code"], "redirect_uri": REDIRECT},
        auth=(bench.rp.client_id, bench.rp.client_secret or ""),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_verifier_without_challenge_is_refused(bench: Bench) -> None:
    """Downgrade: a confidential client authorised without PKCE can't add a verifier later."""
    result = bench.code_flow(code_challenge="", code_challenge_method="")
    response = bench.exchange(result["code"], verifier=pkce()[0])
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_public_client_full_flow_with_pkce(bench: Bench) -> None:
    public = bench.register(auth_method="none")
    result = bench.code_flow(public)
    response = bench.exchange(result["code"], public)
    assert response.status_code == 200, response.text
    assert "id_token" in response.json()
