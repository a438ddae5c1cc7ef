"""`id_token_hint` takes only an ID token we issued: never an access token, though it verifies under the same
keys and names the same client and session (issue 11 #3)."""

from __future__ import annotations

from typing import Any

import pytest

from idp.oauth import tokens
from idp.oauth.signer import TokenSigner
from tests.oauth.conftest import ISSUER, Bench, query_of

OTHER_PHONE = "13900139000"


def _claims(token: str) -> dict[str, Any]:
    import base64
    import json

    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def _session_alive(bench: Bench) -> bool:
    silent = bench.authorize(**bench.auth_params(prompt="none"))
    return "code" in query_of(silent.headers["location"])


def _lookalikes(bench: Bench, id_token: str) -> dict[str, str]:
    """Tokens signed with our own key that are not ID tokens: each is refused by one check of its own."""
    signer = TokenSigner(bench.rt)
    id_claims = _claims(id_token)
    access = tokens.access_token_claims(
        issuer=ISSUER, client_id=bench.rp.client_id, sub=id_claims["sub"], scope="openid", ttl=600, sid=id_claims["sid"]
    )
    return {
        # The access token as we issue it (header and claims both say so).
        "access_token": signer.sign(access, typ=tokens.AT_TYP),
        # Its claims under an ID token's header: the client_id/scope pair gives it away.
        "access_claims_as_jwt": signer.sign(access, typ="JWT"),
        # An ID token's claims under an access token's header: the header gives it away.
        "id_claims_as_at_jwt": signer.sign(id_claims, typ=tokens.AT_TYP),
        # A logout token's header.
        "id_claims_as_logout_jwt": signer.sign(id_claims, typ="logout+jwt"),
    }


KINDS = ["access_token", "access_claims_as_jwt", "id_claims_as_at_jwt", "id_claims_as_logout_jwt"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_logout_refuses_a_token_that_is_not_an_id_token(bench: Bench, kind: str, method: str) -> None:
    issued = bench.tokens()
    hint = _lookalikes(bench, issued["id_token"])[kind]
    params = {"id_token_hint": hint, "state": "s1"}
    response = (
        bench.client.get("/logout", params=params) if method == "GET" else bench.client.post("/logout", data=params)
    )
    assert response.status_code == 400 and "location" not in response.headers
    assert _session_alive(bench)  # the session named by the lookalike's sid was not ended


def test_logout_with_the_id_token_ends_the_session_at_once(bench: Bench) -> None:
    issued = bench.tokens()
    response = bench.client.post("/logout", data={"id_token_hint": issued["id_token"]})
    assert response.status_code == 200
    assert not _session_alive(bench)


@pytest.mark.parametrize("kind", KINDS)
def test_authorize_refuses_a_token_that_is_not_an_id_token(bench: Bench, kind: str) -> None:
    issued = bench.tokens()
    hint = _lookalikes(bench, issued["id_token"])[kind]
    response = bench.authorize(**bench.auth_params(prompt="none", id_token_hint=hint))
    got = query_of(response.headers["location"])
    assert got["error"] == "invalid_request" and "code" not in got


def test_authorize_accepts_the_id_token_of_the_signed_in_person(bench: Bench) -> None:
    issued = bench.tokens()
    response = bench.authorize(**bench.auth_params(prompt="none", id_token_hint=issued["id_token"]))
    assert "code" in query_of(response.headers["location"])


def test_authorize_refuses_an_id_token_issued_to_another_client(bench: Bench) -> None:
    other = bench.register(name="另一部门")
    issued = bench.tokens(other)
    response = bench.authorize(**bench.auth_params(prompt="none", id_token_hint=issued["id_token"]))
    assert query_of(response.headers["location"])["error"] == "invalid_request"


def test_authorize_with_another_persons_id_token_does_not_use_this_session(bench: Bench) -> None:
    """OIDC Core §3.1.2.1: the session counts only if it is the hinted person's."""
    someone_else = bench.tokens(phone=OTHER_PHONE)
    bench.client.cookies.clear()
    bench.code_flow()  # now the browser's session is the default phone's person
    silent = bench.authorize(**bench.auth_params(prompt="none", id_token_hint=someone_else["id_token"]))
    assert query_of(silent.headers["location"])["error"] == "login_required"
    interactive = bench.authorize(**bench.auth_params(id_token_hint=someone_else["id_token"]))
    assert interactive.headers["location"].startswith("/login")
