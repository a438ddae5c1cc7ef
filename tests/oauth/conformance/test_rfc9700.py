"""RFC 9700 (OAuth 2.0 Security BCP) requirements on the authorization server not covered elsewhere."""

from __future__ import annotations

from tests.oauth.conftest import Bench


def test_no_cors_at_the_authorization_endpoint(bench: Bench) -> None:
    """RFC 9700 §2.6 / §4.1.1: the authorization endpoint MUST NOT support CORS (neither preflight nor reply)."""
    origin = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    preflight = bench.client.options("/authorize", headers=origin)
    assert "access-control-allow-origin" not in preflight.headers
    answer = bench.client.get("/authorize", params=bench.auth_params(), headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in answer.headers


def test_a_credentials_post_is_never_answered_with_307(bench: Bench) -> None:
    """RFC 9700 §4.12: a redirect after a POST carrying credentials MUST NOT be a 307 (it would re-post them
    to the client); 303 RECOMMENDED, 302 is followed as GET by browsers."""
    first = bench.authorize(**bench.auth_params())
    answer = bench.sign_in(first.headers["location"])
    assert answer.status_code in (302, 303)
