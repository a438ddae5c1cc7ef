"""RFC 6749 (OAuth 2.0) MUSTs at the authorization and token endpoints, one test per requirement.

Each docstring names the section; `docs/conformance.md` lists them with the requirement's wording.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import time_machine

from tests.oauth.conftest import ISSUER, REDIRECT, Bench, query_of

# RFC 6749 §4.1.2.1 / §5.2: error and error_description are %x20-21 / %x23-5B / %x5D-7E.
ERROR_CHARS = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$")


def _auth(bench: Bench) -> tuple[str, str]:
    return bench.rp.client_id, bench.rp.client_secret or ""


def _redirected_error(bench: Bench, params: dict[str, str] | list[tuple[str, str]]) -> dict[str, str]:
    response = bench.client.get("/authorize?" + urlencode(params))
    assert response.status_code in (302, 303), response.text
    assert response.headers["location"].startswith(REDIRECT)
    return query_of(response.headers["location"])


def test_missing_response_type_is_an_error_sent_to_the_client(bench: Bench) -> None:
    """RFC 6749 §3.1.1: a request without response_type (or one not understood) MUST get the §4.1.2.1 error
    response, with state."""
    params = bench.auth_params(response_type="")
    answer = _redirected_error(bench, params)
    assert answer["error"] in ("invalid_request", "unsupported_response_type")
    assert answer["state"] == params["state"] and "code" not in answer
    odd = _redirected_error(bench, bench.auth_params(response_type="code id_token_weird"))
    assert odd["error"] == "unsupported_response_type" and "code" not in odd


def test_repeated_authorization_parameters_are_refused(bench: Bench) -> None:
    """RFC 6749 §3.1: request parameters MUST NOT be included more than once; a repeated one is
    `invalid_request` (§4.1.2.1), never a code."""
    params = list(bench.auth_params().items()) + [("scope", "openid real_name")]
    answer = _redirected_error(bench, params)
    assert answer["error"] == "invalid_request" and "code" not in answer


def test_repeated_token_parameters_are_refused(bench: Bench) -> None:
    """RFC 6749 §3.2: parameters MUST NOT be included more than once at the token endpoint."""
    result = bench.code_flow()
    body = [
        ("grant_type", "authorization_code"),
        ("code", result["code"]),
        ("code", result["code"]),
        ("redirect_uri", REDIRECT),
        ("code_verifier", bench.verifier),
    ]
    response = bench.client.post(
        "/token",
        content=urlencode(body),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=_auth(bench),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_empty_parameters_count_as_omitted(bench: Bench) -> None:
    """RFC 6749 §3.1 and §3.2: parameters sent without a value MUST be treated as if omitted (an empty
    max_age or prompt is no error; an empty nonce is not echoed)."""
    result = bench.code_flow(max_age="", prompt="", nonce="", login_hint="")
    assert "code" in result and "error" not in result
    empty = bench.authorize(**{**bench.auth_params(), "max_age": "", "prompt": "", "ui_locales": ""})
    assert empty.status_code in (302, 303) and "error=" not in empty.headers["location"]
    # An empty optional parameter at the token endpoint (scope=) changes nothing either.
    flow = bench.code_flow()
    data = {
        "grant_type": "authorization_code",
        "code": flow["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": bench.verifier,
        "scope": "",
    }
    assert bench.client.post("/token", data=data, auth=_auth(bench)).status_code == 200


def test_unrecognised_parameters_are_ignored(bench: Bench) -> None:
    """RFC 6749 §3.1 and §3.2: the authorization server MUST ignore unrecognized request parameters."""
    result = bench.code_flow(x_unknown="1", foo="bar")
    assert "code" in result and "error" not in result
    data = {
        "grant_type": "authorization_code",
        "code": result["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": bench.verifier,
        "x_unknown": "1",
    }
    assert bench.client.post("/token", data=data, auth=_auth(bench)).status_code == 200


def test_client_secret_in_the_query_string_is_not_accepted(bench: Bench) -> None:
    """RFC 6749 §2.3.1: client credentials MUST NOT be included in the request URI."""
    result = bench.code_flow()
    query = urlencode({"client_id": bench.rp.client_id, "client_secret": bench.rp.client_secret or ""})
    data = {
        "grant_type": "authorization_code",
        "code": result["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": bench.verifier,
    }
    response = bench.client.post(f"/token?{query}", data=data)
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"
    # The code was not used up by the refused request: the same request done right still works.
    assert bench.exchange(result["code"]).status_code == 200


def test_confidential_client_must_authenticate_for_the_code(bench: Bench) -> None:
    """RFC 6749 §3.2.1, §4.1.3, §10.5: a confidential client MUST authenticate; client_id alone is not
    authentication (§2.2)."""
    result = bench.code_flow()
    data = {
        "grant_type": "authorization_code",
        "code": result["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": bench.verifier,
        "client_id": bench.rp.client_id,
    }
    response = bench.client.post("/token", data=data)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_token_endpoint_only_takes_post(bench: Bench) -> None:
    """RFC 6749 §3.2: access token requests use POST; a GET with the same parameters issues nothing."""
    result = bench.code_flow()
    query = urlencode({"grant_type": "authorization_code", "code": result["code"], "redirect_uri": REDIRECT})
    assert bench.client.get(f"/token?{query}").status_code == 405
    assert bench.exchange(result["code"]).status_code == 200


def test_token_response_shape_and_pragma(bench: Bench) -> None:
    """RFC 6749 §5.1: access_token and token_type REQUIRED, expires_in RECOMMENDED, JSON body,
    Cache-Control: no-store and Pragma: no-cache."""
    result = bench.code_flow()
    response = bench.exchange(result["code"])
    body = response.json()
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    assert body["access_token"] and body["token_type"] == "Bearer" and isinstance(body["expires_in"], int)


def test_narrower_granted_scope_is_announced(bench: Bench) -> None:
    """RFC 6749 §3.3 / §5.1: if the issued scope differs from the requested one, `scope` MUST be in the
    token response."""
    narrow = bench.register(name="窄范围", scopes=["openid", "profile"])
    result = bench.code_flow(narrow, scope="openid profile phone")
    body = bench.exchange(result["code"], narrow).json()
    assert set(body["scope"].split()) == {"openid", "profile"}


def test_omitted_scope_gets_the_default_or_invalid_scope(bench: Bench) -> None:
    """RFC 6749 §3.3: without `scope` the server MUST use a pre-defined default or fail with invalid_scope."""
    response = bench.authorize(**bench.auth_params(scope=""))
    location = response.headers.get("location", "")
    if location.startswith(REDIRECT):
        assert query_of(location)["error"] == "invalid_scope"
    else:  # a default is used: the flow goes on to sign-in
        assert location.startswith("/login")


def test_error_values_use_the_allowed_characters(bench: Bench) -> None:
    """RFC 6749 §4.1.2.1 and §5.2: error and error_description MUST NOT include characters outside
    %x20-21 / %x23-5B / %x5D-7E (so no Chinese, quote or backslash)."""
    answers = [
        _redirected_error(bench, bench.auth_params(prompt="none")),
        _redirected_error(bench, bench.auth_params(response_type="token")),
        _redirected_error(bench, bench.auth_params(code_challenge_method="plain")),
        _redirected_error(bench, bench.auth_params(max_age="soon")),
        _redirected_error(bench, bench.auth_params(prompt="none login")),
    ]
    token_errors = [
        bench.client.post("/token", data={"grant_type": "password"}, auth=_auth(bench)).json(),
        bench.client.post("/token", data={"grant_type": "authorization_code", "code": "x"}, auth=_auth(bench)).json(),
        bench.client.post("/token", data={"grant_type": "refresh_token"}, auth=_auth(bench)).json(),
        bench.client.post("/token", data={"grant_type": "authorization_code"}, auth=("nobody", "x")).json(),
    ]
    for answer in [*answers, *token_errors]:
        assert ERROR_CHARS.match(answer["error"]), answer
        assert ERROR_CHARS.match(answer.get("error_description", "")), answer


def test_authorization_codes_are_short_lived_and_unguessable(bench: Bench) -> None:
    """RFC 6749 §4.1.2 / §10.5: codes MUST expire shortly (ten minutes at most RECOMMENDED); §10.10: a guess
    MUST succeed with probability ≤ 2^-128 (SHOULD ≤ 2^-160)."""
    assert bench.rt.settings.code_ttl <= 600
    result = bench.code_flow()
    code = result["code"]
    # 43 characters of [A-Za-z0-9]: log2(62) * 43 ≈ 256 bits.
    assert len(code) >= 43 and re.fullmatch(r"[A-Za-z0-9]+", code)
    tokens = bench.exchange(code).json()
    assert len(tokens["refresh_token"]) >= 43  # token_urlsafe(32): 256 bits


def test_an_expired_code_is_refused(bench: Bench) -> None:
    """RFC 6749 §4.1.2, §10.5: the code expires; after code_ttl the exchange is invalid_grant."""
    result = bench.code_flow()
    later = datetime.now(UTC) + timedelta(seconds=bench.rt.settings.code_ttl + 1)
    with time_machine.travel(later, tick=True):
        response = bench.exchange(result["code"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_redirect_uri_query_component_is_kept(bench: Bench) -> None:
    """RFC 6749 §3.1.2: a registered redirect URI's query component MUST be retained when adding parameters."""
    with_query = "https://rp.example/cb?tenant=7"
    rp = bench.register(name="带参数", redirect_uris=[with_query])
    params = bench.auth_params(rp, redirect_uri=with_query, prompt="none")
    location = bench.authorize(**params).headers["location"]
    assert location.startswith(with_query + "&")
    assert query_of(location)["tenant"] == "7" and query_of(location)["iss"] == ISSUER


def test_client_credentials_gets_no_refresh_token(bench: Bench) -> None:
    """RFC 6749 §4.4.3: a refresh token SHOULD NOT be included; §4.4.2 the client MUST authenticate."""
    machine = bench.register(name="机器", redirect_uris=[], scopes=["openid"], grant_types=["client_credentials"])
    response = bench.client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(machine.client_id, machine.client_secret or "")
    )
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    refused = bench.client.post("/token", data={"grant_type": "client_credentials", "client_id": machine.client_id})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
