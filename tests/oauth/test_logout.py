"""RP-initiated logout: only to registered URIs; back-channel logout tokens reach registered clients."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.kit.waiting import wait_until
from tests.oauth.conftest import ISSUER, Bench, form_value, query_of

BYE = "https://rp.example/bye"


def test_logout_redirects_only_to_registered_uris(bench: Bench) -> None:
    rp = bench.register(name="可退出", post_logout_redirect_uris=[BYE])
    tokens = bench.tokens(rp)
    evil = bench.client.get(
        "/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"}
    )
    assert evil.status_code == 400 and "location" not in evil.headers
    near = bench.client.get(
        "/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE + "/"}
    )
    assert near.status_code == 400
    ok = bench.client.get(
        "/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE, "state": "s1"}
    )
    assert ok.status_code == 303 and query_of(ok.headers["location"]) == {"state": "s1"}
    assert ok.headers["location"].startswith(BYE)
    # The session is over: a silent authorization now needs a login.
    again = bench.authorize(**bench.auth_params(rp, prompt="none"))
    assert query_of(again.headers["location"])["error"] == "login_required"


def test_logout_without_hint_asks_for_confirmation_with_csrf(bench: Bench) -> None:
    bench.code_flow()
    page = bench.client.get("/logout")
    assert page.status_code == 200 and 'action="/logout"' in page.text
    assert bench.client.post("/logout", data={"csrf": "forged"}).status_code == 400
    done = bench.client.post("/logout", data={"csrf": form_value(page.text, "csrf")})
    assert done.status_code == 200
    assert (
        query_of(bench.authorize(**bench.auth_params(prompt="none")).headers["location"])["error"] == "login_required"
    )


def test_confirmation_form_cannot_be_pointed_elsewhere(bench: Bench) -> None:
    bench.code_flow()
    page = bench.client.get("/logout")
    response = bench.client.post(
        "/logout",
        data={"csrf": form_value(page.text, "csrf"), "client_id": bench.rp.client_id, "uri": "https://evil.example/"},
    )
    assert response.status_code == 400 and "location" not in response.headers


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[str]]]:
    received: list[str] = []

    async def backchannel(request: Request) -> Response:
        received.append(str((await request.form())["logout_token"]))
        return Response(status_code=200)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/bc", backchannel, methods=["POST"])]), port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: bool(server.started), 10, "the back-channel receiver starting")
    try:
        yield f"http://127.0.0.1:{port}/bc", received
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def test_back_channel_logout_token_is_delivered(bench: Bench, receiver: tuple[str, list[str]]) -> None:
    uri, received = receiver
    rp = bench.register(name="后端退出", backchannel_logout_uri=uri)
    tokens = bench.tokens(rp)
    page = bench.client.get("/logout")
    bench.client.post("/logout", data={"csrf": form_value(page.text, "csrf")})
    wait_until(lambda: bool(received), 10, "the back-channel logout delivery")
    assert len(received) == 1
    keys = KeySet.import_key_set(bench.client.get("/jwks").json())
    token = jwt.decode(received[0], keys, algorithms=["ES256"])
    id_claims: dict[str, Any] = jwt.decode(tokens["id_token"], keys, algorithms=["ES256"]).claims
    claims = token.claims
    assert token.header["typ"] == "logout+jwt"
    assert claims["iss"] == ISSUER and claims["aud"] == rp.client_id
    assert claims["sub"] == id_claims["sub"] and claims["sid"] == id_claims["sid"]
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"] and "nonce" not in claims
