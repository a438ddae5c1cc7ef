"""Pushed Authorization Requests (RFC 9126): the PAR endpoint's checks before a request_uri exists, and the
request_uri at the authorization endpoint (single use, short-lived, bound to its client, the only parameters)."""

from __future__ import annotations

import time
from typing import Any

import time_machine
from httpx import Response
from sqlalchemy import func, select

from idp.oauth.models import PushedRequest
from idp.oauth.par import URN_PREFIX
from tests.oauth.conftest import REDIRECT, Bench, query_of


def _push(bench: Bench, rp: Any = None, **overrides: str) -> Response:
    rp = rp or bench.rp
    params = bench.auth_params(rp, **overrides)
    if rp.client_secret:
        return bench.client.post("/par", data=params, auth=(rp.client_id, rp.client_secret))
    return bench.client.post("/par", data=params)


def _stored(bench: Bench) -> int:
    with bench.rt.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(PushedRequest)) or 0)


def _finish(bench: Bench, first: Response) -> dict[str, str]:
    """From /authorize's answer to the client's redirect (sign-in by SMS, consent)."""
    assert first.status_code in (302, 303), first.text
    response = bench.sign_in(first.headers["location"]) if first.headers["location"].startswith("/login") else first
    final = bench.follow(response)
    assert final.status_code == 302 and final.headers["location"].startswith(REDIRECT), final.text
    return query_of(final.headers["location"])


def test_pushed_request_gives_a_single_use_request_uri_that_carries_the_flow(bench: Bench) -> None:
    pushed = _push(bench, state="pushed-state")
    assert pushed.status_code == 201, pushed.text
    body = pushed.json()
    assert body["request_uri"].startswith(URN_PREFIX) and len(body["request_uri"]) > len(URN_PREFIX) + 40
    assert body["expires_in"] == bench.rt.settings.par_ttl and 5 <= body["expires_in"] <= 600
    assert "no-store" in pushed.headers["cache-control"]
    # Only the pushed parameters count (§4): the query's own redirect_uri and state are ignored.
    first = bench.authorize(
        client_id=bench.rp.client_id,
        request_uri=body["request_uri"],
        redirect_uri="https://attacker.example/cb",
        state="query-state",
    )
    result = _finish(bench, first)
    assert result["state"] == "pushed-state" and result["code"]
    assert bench.exchange(result["code"]).status_code == 200
    # Used once: a second use is refused with a page, never a redirect.
    again = bench.authorize(client_id=bench.rp.client_id, request_uri=body["request_uri"])
    assert again.status_code == 400 and "location" not in again.headers


def test_request_uri_expires(bench: Bench) -> None:
    request_uri = _push(bench).json()["request_uri"]
    with time_machine.travel(time.time() + bench.rt.settings.par_ttl + 1, tick=True):
        late = bench.authorize(client_id=bench.rp.client_id, request_uri=request_uri)
    assert late.status_code == 400 and "location" not in late.headers


def test_request_uri_is_bound_to_the_client_that_pushed_it(bench: Bench) -> None:
    other = bench.register(name="另一个部门")
    request_uri = _push(bench).json()["request_uri"]
    stolen = bench.authorize(client_id=other.client_id, request_uri=request_uri)
    assert stolen.status_code == 400 and "location" not in stolen.headers
    # The refusal used nothing up: the rightful client still can.
    own = bench.authorize(client_id=bench.rp.client_id, request_uri=request_uri)
    assert own.status_code in (302, 303) and own.headers["location"].startswith("/login")
    forged = bench.authorize(client_id=bench.rp.client_id, request_uri=URN_PREFIX + "made-up")
    assert forged.status_code == 400


def test_a_client_required_to_use_par_is_refused_a_plain_request(bench: Bench) -> None:
    rp = bench.register(name="只用PAR", require_pushed_authorization_requests=True)
    plain = bench.authorize(**bench.auth_params(rp))
    assert plain.status_code in (302, 303)
    error = query_of(plain.headers["location"])
    assert plain.headers["location"].startswith(REDIRECT)
    assert error["error"] == "invalid_request" and "pushed" in error["error_description"]
    request_uri = _push(bench, rp).json()["request_uri"]
    assert _finish(bench, bench.authorize(client_id=rp.client_id, request_uri=request_uri))["code"]


def test_par_required_for_every_client_by_setting(bench: Bench) -> None:
    bench.client.app.state.settings.require_par = True  # type: ignore[attr-defined]
    try:
        plain = bench.authorize(**bench.auth_params())
        assert query_of(plain.headers["location"])["error"] == "invalid_request"
        metadata = bench.client.get("/.well-known/oauth-authorization-server").json()
        assert metadata["require_pushed_authorization_requests"] is True
    finally:
        bench.client.app.state.settings.require_par = False  # type: ignore[attr-defined]


def test_the_pushed_request_is_validated_before_a_request_uri_exists(bench: Bench) -> None:
    public = bench.register(name="公共客户端", auth_method="none")
    refusals: list[tuple[Response, int, str]] = [
        (_push(bench, redirect_uri="https://rp.example/other"), 400, "invalid_request"),
        (_push(bench, scope="openid no_such_scope"), 400, "invalid_scope"),
        (_push(bench, response_type="token"), 400, "unsupported_response_type"),
        (_push(bench, code_challenge_method="plain"), 400, "invalid_request"),
        (_push(bench, public, code_challenge="", code_challenge_method=""), 400, "invalid_request"),
        (_push(bench, max_age="soon"), 400, "invalid_request"),
        (_push(bench, dpop_jkt="not-a-thumbprint"), 400, "invalid_request"),
        (_push(bench, request_uri=URN_PREFIX + "x"), 400, "invalid_request"),
        (_push(bench, request="eyJhbGciOiJub25lIn0.e30."), 400, "request_not_supported"),
        (_push(bench, client_id=public.client_id), 400, "invalid_request"),
    ]
    wrong_secret = bench.client.post("/par", data=bench.auth_params(), auth=(bench.rp.client_id, "wrong"))
    refusals.append((wrong_secret, 401, "invalid_client"))
    no_auth = bench.client.post("/par", data=bench.auth_params())
    refusals.append((no_auth, 401, "invalid_client"))
    for response, status, error in refusals:
        assert response.headers["content-type"] == "application/json", (error, response.status_code)
        assert (response.status_code, response.json()["error"]) == (status, error), response.text
    assert _stored(bench) == 0
    # A public client authenticates with `none` (RFC 9126 §2 follows the token endpoint's rules).
    assert _push(bench, public).status_code == 201
    assert bench.client.get("/par").status_code == 405


def test_discovery_names_the_par_endpoint(bench: Bench) -> None:
    metadata = bench.client.get("/.well-known/openid-configuration").json()
    assert metadata["pushed_authorization_request_endpoint"] == metadata["issuer"] + "/par"
    assert metadata["require_pushed_authorization_requests"] is False
