"""MUSTs from docs/conformance.md that no other test states outright."""

from __future__ import annotations

from tests.oauth.conftest import ISSUER, REDIRECT, Bench, bench, query_of  # noqa: F401  (bench: the fixture)


def test_revoking_an_unknown_token_answers_200(bench: Bench) -> None:  # noqa: F811
    """RFC 7009 §2.2: invalid tokens do not cause an error response."""
    auth = (bench.rp.client_id, bench.rp.client_secret or "")
    response = bench.client.post("/revoke", data={"token": "never-issued"}, auth=auth)
    assert response.status_code == 200


def test_userinfo_challenges_with_bearer(bench: Bench) -> None:  # noqa: F811
    """RFC 6750 §3: a 401 carries WWW-Authenticate: Bearer, with error=invalid_token for a bad token (§3.1)."""
    missing = bench.client.get("/userinfo")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    bad = bench.client.get("/userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]


def test_authorization_server_metadata_names_its_issuer(bench: Bench) -> None:  # noqa: F811
    """RFC 8414 §3.3 / OIDC Discovery §4.3: the issuer in the metadata is the one the document is fetched for."""
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        assert bench.client.get(path).json()["issuer"] == ISSUER


def test_token_responses_are_not_cached(bench: Bench) -> None:  # noqa: F811
    """RFC 6749 §5.1: Cache-Control: no-store on every response carrying tokens (errors: test_metadata_...)."""
    result = bench.code_flow()
    response = bench.exchange(result["code"])
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert response.json()["token_type"] == "Bearer"


def test_implicit_grant_is_not_offered(bench: Bench) -> None:  # noqa: F811
    """RFC 9700 §2.1.2: no response_type=token; the refusal goes back to the client with state and iss."""
    params = bench.auth_params(response_type="token")
    location = bench.authorize(**params).headers["location"]
    assert location.startswith(REDIRECT)
    answer = query_of(location)
    assert answer["error"] == "unsupported_response_type" and answer["state"] == params["state"]
    assert answer["iss"] == ISSUER and "access_token" not in location
