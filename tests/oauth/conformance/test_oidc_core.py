"""OpenID Connect Core 1.0 MUSTs for the OpenID Provider (the §§ are Core's), one test per requirement."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.oauth.conftest import ISSUER, REDIRECT, Bench, query_of


def _part(token: str, index: int) -> dict[str, Any]:
    text = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))


def _redirected(bench: Bench, params: dict[str, str]) -> dict[str, str]:
    response = bench.client.get("/authorize?" + urlencode(params))
    assert response.status_code in (302, 303) and response.headers["location"].startswith(REDIRECT), response.text
    return query_of(response.headers["location"])


def test_id_token_is_signed_with_a_published_key_and_names_its_kid(bench: Bench) -> None:
    """§2 and §10.1: ID tokens MUST be signed (JWS, never alg none), with a key in our JWK Set, a `kid` when
    the set has several keys; no x5u/x5c/jku/jwk header (SHOULD NOT)."""
    tokens = bench.tokens()
    header = _part(tokens["id_token"], 0)
    assert header["alg"] in ("ES256", "RS256") and header["kid"]
    assert not {"x5u", "x5c", "jku", "jwk"} & header.keys()
    keys = KeySet.import_key_set(bench.client.get("/jwks").json())
    claims = jwt.decode(tokens["id_token"], keys, algorithms=[header["alg"]]).claims
    assert claims["iss"] == ISSUER


def test_id_token_required_claims(bench: Bench) -> None:
    """§2: iss, sub (≤ 255 ASCII characters), aud containing the client_id, exp, iat REQUIRED; auth_time
    REQUIRED when max_age was sent (§3.1.2.1); nonce echoed exactly when sent."""
    tokens = bench.tokens(max_age="3600", nonce="n-0S6_WzA2Mj")
    claims = _part(tokens["id_token"], 1)
    assert claims["iss"] == ISSUER and claims["aud"] in (bench.rp.client_id, [bench.rp.client_id])
    assert claims["sub"].isascii() and 0 < len(claims["sub"]) <= 255
    assert claims["exp"] > claims["iat"] and isinstance(claims["auth_time"], int)
    assert claims["nonce"] == "n-0S6_WzA2Mj"


def test_no_nonce_claim_without_a_nonce(bench: Bench) -> None:
    """§2: nonce is included when the request had one; an ID token never invents one."""
    tokens = bench.tokens(nonce="")
    assert "nonce" not in _part(tokens["id_token"], 1)


def test_token_response_carries_an_id_token_only_for_openid_requests(bench: Bench) -> None:
    """§3.1.3.3: an OpenID request's token response MUST include id_token; §3.1.3.2: a code from a non-OpenID
    request yields no ID token."""
    assert _part(bench.tokens()["id_token"], 1)["aud"] == bench.rp.client_id
    plain = bench.tokens(scope="profile")
    assert "id_token" not in plain and plain["access_token"]


def test_token_type_is_bearer_and_response_not_cached(bench: Bench) -> None:
    """§3.1.3.3: token_type MUST be Bearer; Cache-Control: no-store and Pragma: no-cache MUST be sent."""
    result = bench.code_flow()
    response = bench.exchange(result["code"])
    assert response.json()["token_type"] == "Bearer"
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"


def test_prompt_none_with_another_value_is_invalid_request(bench: Bench) -> None:
    """§3.1.2.1: "If this parameter contains none with any other value, an error is returned."""
    answer = _redirected(bench, bench.auth_params(prompt="none login"))
    assert answer["error"] == "invalid_request" and "code" not in answer


def test_request_objects_are_refused_as_unsupported(bench: Bench) -> None:
    """§6.1 / §6.2: an OP not supporting `request` / `request_uri` MUST return request_not_supported /
    request_uri_not_supported (discovery says both are unsupported)."""
    request_object = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."
    answer = _redirected(bench, bench.auth_params(request=request_object))
    assert answer["error"] == "request_not_supported" and "code" not in answer
    answer = _redirected(bench, bench.auth_params(request_uri="https://rp.example/request.jwt"))
    assert answer["error"] == "request_uri_not_supported" and "code" not in answer


def test_display_ui_locales_and_claims_locales_cause_no_error(bench: Bench) -> None:
    """§3.1.2.1 / §15.1: display, ui_locales and claims_locales are supported; unsupported locales SHOULD NOT
    cause an error."""
    result = bench.code_flow(display="touch", ui_locales="fr-CA en", claims_locales="de")
    assert "code" in result and "error" not in result


def test_ui_locales_choose_the_page_language(bench: Bench) -> None:
    """§3.1.2.1 / §15.1: the OP MUST support ui_locales (zh-CN and en)."""
    first = bench.authorize(**bench.auth_params(ui_locales="en"))
    page = bench.client.get(first.headers["location"], headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and 'lang="en"' in page.text


def test_userinfo_get_and_post_json_with_the_id_tokens_sub(bench: Bench) -> None:
    """§5.3: UserInfo MUST support GET and POST and accept the Bearer token (RFC 6750); §5.3.2: `sub` MUST be
    returned, equal to the ID token's; the content-type MUST be application/json."""
    tokens = bench.tokens()
    sub = _part(tokens["id_token"], 1)["sub"]
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    for response in (bench.client.get("/userinfo", headers=headers), bench.client.post("/userinfo", headers=headers)):
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        assert response.json()["sub"] == sub
        assert all(v not in (None, "") for v in response.json().values())  # §5.3.2: omitted, not null


def test_an_id_token_is_not_accepted_as_an_access_token(bench: Bench) -> None:
    """§5.3.1 (RFC 6750) and RFC 9068 §4: UserInfo takes only access tokens; an ID token (typ JWT) is refused."""
    tokens = bench.tokens()
    response = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['id_token']}"})
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]


def test_refresh_tokens_only_with_consented_offline_access(bench: Bench) -> None:
    """§11: a refresh token enabling offline access is returned only when offline_access was requested and
    consented to; without it an OpenID request gets no refresh token."""
    assert "refresh_token" in bench.tokens(scope="openid offline_access")
    assert "refresh_token" not in bench.tokens(scope="openid profile")


def test_refresh_response_follows_the_token_response(bench: Bench) -> None:
    """§12.1 / §12.2: the refresh token is validated and bound to its client; the response is a Token
    Response (no-store); no new ID token is issued, so §12.2's ID-token rules are not engaged."""
    tokens = bench.tokens()
    auth = (bench.rp.client_id, bench.rp.client_secret or "")
    response = bench.client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth=auth
    )
    body = response.json()
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert body["token_type"] == "Bearer" and "id_token" not in body


def test_a_new_consent_is_asked_when_prompt_is_consent(bench: Bench) -> None:
    """§3.1.2.4: the OP MUST obtain an authorization decision before releasing information; with a
    remembered consent and prompt=none the code comes at once, prompt=none with prompt=consent is refused."""
    bench.code_flow()
    again = _redirected(bench, bench.auth_params(prompt="none"))
    assert "code" in again
    asked = bench.authorize(**bench.auth_params(prompt="consent"))
    assert asked.status_code in (302, 303) and not asked.headers["location"].startswith(REDIRECT)
