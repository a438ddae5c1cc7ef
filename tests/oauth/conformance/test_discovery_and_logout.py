"""OpenID Connect Discovery 1.0, RFC 8414, RP-Initiated Logout 1.0 and Back-Channel Logout 1.0: the OP's
MUSTs, one test per requirement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.errors import InvalidInput
from tests.kit.waiting import wait_until
from tests.oauth.conftest import ISSUER, Bench, form_value, query_of
from tests.oauth.test_logout import BYE, receiver  # noqa: F401  (receiver: the fixture)

REQUIRED = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
)


def _metadata(bench: Bench, path: str) -> dict[str, Any]:
    response = bench.client.get(path)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    return dict(response.json())


def test_openid_configuration_has_the_required_members(bench: Bench) -> None:
    """Discovery §4, §4.2: GET /.well-known/openid-configuration answers 200 application/json; §3: the
    REQUIRED members are present, RS256 among the ID token algorithms, no `none` for client assertions,
    no member with zero elements."""
    meta = _metadata(bench, "/.well-known/openid-configuration")
    assert all(meta.get(name) for name in REQUIRED)
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    for name, value in meta.items():
        assert value != [] and value is not None, name
        if name.endswith("_auth_signing_alg_values_supported"):
            assert "none" not in value, name
    assert meta["end_session_endpoint"] == f"{ISSUER}/logout"  # RP-Initiated Logout §2.1: MUST be included
    assert meta["backchannel_logout_supported"] is True and meta["backchannel_logout_session_supported"] is True


def test_authorization_server_metadata_matches_and_names_a_clean_issuer(bench: Bench) -> None:
    """RFC 8414 §2: issuer has no query or fragment; response_types_supported REQUIRED; §3.2: 200 JSON;
    §3.3: the issuer is the one the metadata was fetched for. Both documents say the same."""
    oauth = _metadata(bench, "/.well-known/oauth-authorization-server")
    oidc = _metadata(bench, "/.well-known/openid-configuration")
    assert oauth == oidc and oauth["issuer"] == ISSUER
    parts = urlsplit(oauth["issuer"])
    assert not parts.query and not parts.fragment and parts.scheme in ("https", "http")
    assert oauth["response_types_supported"] == ["code"]
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "revocation_endpoint"):
        assert oauth[name].startswith(ISSUER + "/"), name


def test_jwks_has_no_private_or_symmetric_material(bench: Bench) -> None:
    """Discovery §3 (jwks_uri): the JWK Set MUST NOT contain private or symmetric key values; `use` given."""
    keys = bench.client.get("/jwks").json()["keys"]
    private = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
    assert keys and all(not private & key.keys() and key["use"] == "sig" and key["kid"] for key in keys)
    assert len({key["kid"] for key in keys}) == len(keys)


# --- RP-Initiated Logout -----------------------------------------------------------------------------------


def test_client_id_must_match_the_id_token_hint(bench: Bench) -> None:
    """RP-Initiated Logout §2: with both client_id and id_token_hint, the OP MUST verify they match."""
    rp = bench.register(name="可退出", post_logout_redirect_uris=[BYE])
    tokens = bench.tokens(rp)
    response = bench.client.get(
        "/logout",
        params={"id_token_hint": tokens["id_token"], "client_id": bench.rp.client_id, "post_logout_redirect_uri": BYE},
    )
    assert response.status_code == 400 and "location" not in response.headers


def test_an_access_token_is_no_id_token_hint(bench: Bench) -> None:
    """RP-Initiated Logout §2: the OP MUST validate that it issued the hint as an ID Token; §4: a hint that
    fails validation aborts, no redirection. Our access token (typ at+jwt) is not an ID token."""
    rp = bench.register(name="可退出", post_logout_redirect_uris=[BYE])
    tokens = bench.tokens(rp)
    response = bench.client.get(
        "/logout", params={"id_token_hint": tokens["access_token"], "post_logout_redirect_uri": BYE}
    )
    assert response.status_code == 400 and "location" not in response.headers


def test_an_expired_id_token_hint_is_still_accepted(bench: Bench) -> None:
    """RP-Initiated Logout §2: the OP SHOULD accept ID tokens for a current session even after exp."""
    rp = bench.register(name="可退出", post_logout_redirect_uris=[BYE])
    tokens = bench.tokens(rp)
    later = datetime.now(UTC) + timedelta(seconds=bench.rt.settings.id_token_ttl + 60)
    with time_machine.travel(later, tick=True):
        response = bench.client.get(
            "/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE, "state": "x"}
        )
    assert response.status_code in (200, 303)
    if response.status_code == 303:
        assert query_of(response.headers["location"]) == {"state": "x"}


def test_post_logout_redirect_without_a_client_is_not_followed(bench: Bench) -> None:
    """RP-Initiated Logout §3: without id_token_hint (or another way to confirm the target) the OP MUST NOT
    redirect; a URI registered by no named client is refused."""
    bench.code_flow()
    response = bench.client.get("/logout", params={"post_logout_redirect_uri": BYE})
    assert response.status_code == 400 and "location" not in response.headers


def test_ui_locales_at_logout_cause_no_error(bench: Bench) -> None:
    """RP-Initiated Logout §2: unsupported ui_locales SHOULD NOT cause an error."""
    bench.code_flow()
    page = bench.client.get("/logout", params={"ui_locales": "fr-CA"})
    assert page.status_code == 200 and 'action="/logout"' in page.text


# --- Back-Channel Logout -----------------------------------------------------------------------------------


def test_logout_token_claims_and_delivery(bench: Bench, receiver: tuple[str, list[str]]) -> None:  # noqa: F811
    """Back-Channel Logout §2.4: iss, aud, iat, exp, jti REQUIRED; `events` with the back-channel member whose
    value is a JSON object (SHOULD be {}); sub or sid (we send both); no nonce (MUST NOT); signed with the ID
    token keys; typ logout+jwt (RECOMMENDED). §2.5: a form POST with `logout_token`, sent once."""
    uri, received = receiver
    rp = bench.register(name="后端退出", backchannel_logout_uri=uri)
    tokens = bench.tokens(rp)
    page = bench.client.get("/logout")
    bench.client.post("/logout", data={"csrf": form_value(page.text, "csrf")})
    wait_until(lambda: bool(received), 10, "the back-channel logout delivery")
    keys = KeySet.import_key_set(bench.client.get("/jwks").json())
    token = jwt.decode(received[0], keys, algorithms=["ES256", "RS256"])
    claims, header = token.claims, token.header
    assert header["typ"] == "logout+jwt" and header["kid"]
    assert {"iss", "aud", "iat", "exp", "jti", "events", "sub", "sid"} <= claims.keys() and "nonce" not in claims
    assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert claims["iss"] == ISSUER and claims["aud"] == rp.client_id and claims["exp"] > claims["iat"]
    assert claims["sid"] == jwt.decode(tokens["id_token"], keys).claims["sid"]
    assert len(received) == 1


def test_back_channel_logout_uri_must_be_absolute_without_fragment(bench: Bench) -> None:
    """Back-Channel Logout §2.2: the URI MUST be absolute and MUST NOT include a fragment (refused at
    registration)."""
    for bad in ("https://rp.example/bc#x", "/bc", "rp.example/bc"):
        with pytest.raises(InvalidInput):
            bench.register(name="坏地址", backchannel_logout_uri=bad)
