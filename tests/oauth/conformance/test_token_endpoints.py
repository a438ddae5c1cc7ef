"""RFC 6750 (bearer usage), RFC 7009 (revocation), RFC 7662 (introspection) and RFC 9068 (JWT access
tokens): the MUSTs of each, one test per requirement."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from tests.oauth.conftest import ISSUER, Bench


def _auth(bench: Bench) -> tuple[str, str]:
    return bench.rp.client_id, bench.rp.client_secret or ""


def _part(token: str, index: int) -> dict[str, Any]:
    text = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))


def _introspect(bench: Bench, token: str, **extra: str) -> dict[str, Any]:
    response = bench.client.post("/introspect", data={"token": token, **extra}, auth=_auth(bench))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _userinfo(bench: Bench, access_token: str) -> int:
    return bench.client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status_code


# --- RFC 6750 ----------------------------------------------------------------------------------------------


def test_no_credentials_get_a_bare_bearer_challenge(bench: Bench) -> None:
    """RFC 6750 §3: a 401 MUST carry WWW-Authenticate with the Bearer scheme; §3.1: a request without any
    authentication SHOULD NOT get an error code."""
    response = bench.client.get("/userinfo")
    challenge = response.headers["www-authenticate"]
    assert response.status_code == 401 and challenge.startswith("Bearer ") and "error=" not in challenge


def test_a_token_without_the_scope_is_403_insufficient_scope(bench: Bench) -> None:
    """RFC 6750 §3.1: insufficient_scope answers 403; UserInfo needs a token issued for `openid`."""
    plain = bench.tokens(scope="profile")
    response = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {plain['access_token']}"})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_an_expired_access_token_is_invalid_token(bench: Bench) -> None:
    """RFC 6750 §3.1 invalid_token for an expired token; RFC 6749 §7: the resource server MUST check expiry."""
    tokens = bench.tokens()
    later = datetime.now(UTC) + timedelta(seconds=bench.rt.settings.access_token_ttl + 5)
    with time_machine.travel(later, tick=True):
        response = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]


# --- RFC 7009 ----------------------------------------------------------------------------------------------


def test_revoked_access_token_stops_working(bench: Bench) -> None:
    """RFC 7009 §2: the server SHOULD support revoking access tokens; once revoked (200) it is refused
    (§2.2) at UserInfo and introspects inactive."""
    tokens = bench.tokens()
    response = bench.client.post(
        "/revoke", data={"token": tokens["access_token"], "token_type_hint": "access_token"}, auth=_auth(bench)
    )
    assert response.status_code == 200
    assert _userinfo(bench, tokens["access_token"]) == 401
    assert _introspect(bench, tokens["access_token"]) == {"active": False}


def test_revocation_searches_past_a_wrong_hint(bench: Bench) -> None:
    """RFC 7009 §2.1: if the token is not found under the hint, the server MUST extend its search across all
    supported token types."""
    tokens = bench.tokens()
    response = bench.client.post(
        "/revoke", data={"token": tokens["access_token"], "token_type_hint": "refresh_token"}, auth=_auth(bench)
    )
    assert response.status_code == 200 and _userinfo(bench, tokens["access_token"]) == 401
    refresh = bench.client.post(
        "/revoke", data={"token": tokens["refresh_token"], "token_type_hint": "access_token"}, auth=_auth(bench)
    )
    assert refresh.status_code == 200
    assert _introspect(bench, tokens["refresh_token"]) == {"active": False}


def test_revocation_of_another_clients_token_is_refused(bench: Bench) -> None:
    """RFC 7009 §2.1: the server verifies the token was issued to the requesting client; otherwise the
    request is refused with an error, and the token stays valid."""
    tokens = bench.tokens()
    other = bench.register(name="别的部门")
    response = bench.client.post(
        "/revoke", data={"token": tokens["refresh_token"]}, auth=(other.client_id, other.client_secret or "")
    )
    assert response.status_code in (400, 401) and response.json()["error"]
    assert _introspect(bench, tokens["refresh_token"])["active"] is True


def test_revocation_needs_client_authentication_and_a_token(bench: Bench) -> None:
    """RFC 7009 §2.1: a confidential client authenticates (RFC 6749 §2.3, 401 invalid_client otherwise);
    `token` is REQUIRED (invalid_request); an unknown token_type_hint is unsupported_token_type (§2.2.1)."""
    tokens = bench.tokens()
    anonymous = bench.client.post("/revoke", data={"token": tokens["refresh_token"], "client_id": bench.rp.client_id})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    assert _introspect(bench, tokens["refresh_token"])["active"] is True
    missing = bench.client.post("/revoke", data={}, auth=_auth(bench))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    odd = bench.client.post("/revoke", data={"token": "x", "token_type_hint": "saml"}, auth=_auth(bench))
    assert odd.status_code == 400 and odd.json()["error"] == "unsupported_token_type"


# --- RFC 7662 ----------------------------------------------------------------------------------------------


def test_introspection_of_an_active_access_token(bench: Bench) -> None:
    """RFC 7662 §2.2: `active` REQUIRED; scope, client_id, token_type, exp, iat, sub, aud, iss, jti as
    defined; §2.1 a POST of a form with `token`."""
    tokens = bench.tokens()
    body = _introspect(bench, tokens["access_token"])
    assert body["active"] is True and body["client_id"] == bench.rp.client_id and body["iss"] == ISSUER
    assert body["sub"] == _part(tokens["id_token"], 1)["sub"] and body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == {"openid", "profile", "phone", "offline_access"}
    assert body["exp"] > body["iat"] and body["jti"]
    assert bench.client.get("/introspect", params={"token": tokens["access_token"]}).status_code == 405


def test_introspection_searches_past_a_wrong_hint(bench: Bench) -> None:
    """RFC 7662 §2.1: a wrong token_type_hint MUST NOT hide the token: the search extends to all types."""
    tokens = bench.tokens()
    assert _introspect(bench, tokens["access_token"], token_type_hint="refresh_token")["active"] is True
    assert _introspect(bench, tokens["refresh_token"], token_type_hint="access_token")["active"] is True


def test_a_token_the_caller_may_not_see_is_just_inactive(bench: Bench) -> None:
    """RFC 7662 §2.2: a token the caller is not allowed to introspect MUST answer {"active": false} and
    SHOULD NOT say more."""
    tokens = bench.tokens()
    other = bench.register(name="别的部门")
    response = bench.client.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(other.client_id, other.client_secret or "")
    )
    assert response.status_code == 200 and response.json() == {"active": False}


def test_an_expired_token_is_inactive(bench: Bench) -> None:
    """RFC 7662 §2.2 / §4: the server MUST determine whether the token has expired: an expired access token
    answers {"active": false}."""
    tokens = bench.tokens()
    later = datetime.now(UTC) + timedelta(seconds=bench.rt.settings.access_token_ttl + 5)
    with time_machine.travel(later, tick=True):
        assert _introspect(bench, tokens["access_token"]) == {"active": False}


def test_introspection_needs_a_token_parameter(bench: Bench) -> None:
    """RFC 7662 §2.1: `token` is REQUIRED: without it, invalid_request (RFC 6749 §5.2)."""
    response = bench.client.post("/introspect", data={}, auth=_auth(bench))
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


# --- RFC 9068 ----------------------------------------------------------------------------------------------


def test_access_token_header_and_claims(bench: Bench) -> None:
    """RFC 9068 §2.1: typ MUST be at+jwt, signed (never alg none); §2.2: iss, exp, aud, sub, client_id, iat,
    jti REQUIRED; §2.2.3: scope when a scope was requested; §2.2.1: auth_time, acr, amr from the sign-in."""
    tokens = bench.tokens()
    header, claims = _part(tokens["access_token"], 0), _part(tokens["access_token"], 1)
    assert header["typ"] == "at+jwt" and header["alg"] in ("ES256", "RS256") and header["kid"]
    assert {"iss", "exp", "aud", "sub", "client_id", "iat", "jti", "scope"} <= claims.keys()
    assert claims["iss"] == ISSUER and claims["client_id"] == bench.rp.client_id
    id_claims = _part(tokens["id_token"], 1)
    assert claims["sub"] == id_claims["sub"] and claims["auth_time"] == id_claims["auth_time"]
    assert claims["acr"] == id_claims["acr"] and claims["amr"] == id_claims["amr"]


def test_client_credentials_token_names_the_client_as_subject(bench: Bench) -> None:
    """RFC 9068 §2.2: without a resource owner, `sub` is the client's identifier."""
    machine = bench.register(name="机器", redirect_uris=[], scopes=["openid"], grant_types=["client_credentials"])
    response = bench.client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(machine.client_id, machine.client_secret or "")
    )
    claims = _part(response.json()["access_token"], 1)
    assert claims["sub"] == claims["client_id"] == machine.client_id


def test_a_token_with_another_typ_is_not_an_access_token(bench: Bench) -> None:
    """RFC 9068 §4: the resource server MUST check typ at+jwt: our logout token or ID token signed by the same
    key is refused at UserInfo and introspects inactive."""
    tokens = bench.tokens()
    assert _userinfo(bench, tokens["id_token"]) == 401
    assert _introspect(bench, tokens["id_token"]) == {"active": False}
