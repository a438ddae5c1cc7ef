"""CIBA Core 1.0 (poll and ping) over HTTP: the backchannel endpoint, the citizen's approval through the engine,
the token endpoint's answers (§11), single use, expiry, slow_down, ping, and unknown hints."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from idp.oauth.ciba_models import CibaRequest
from idp.oauth.clients import NewClient
from idp.settings import Settings
from tests.oauth.ciba_kit import (
    bc_authorize,
    ciba_client,
    decide,
    link_from_outbox,
    poll,
    register_person,
    sign_in_for,
    sms_texts,
)
from tests.oauth.conftest import PHONE, Bench, form_value

OTHER = "13900139000"  # registered, another person
NOBODY = "13700137000"  # never registered


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Several sign-ins of one phone within a minute in one test: the per-minute SMS limit is not what's tested.
    return settings.model_copy(update={"sms_per_phone_per_minute": 50, "sms_per_phone_per_day": 100})


def _rows(bench: Bench) -> int:
    with bench.rt.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(CibaRequest)) or 0)


def _error(response: Any) -> str:
    return str(response.json()["error"])


def _start(bench: Bench, rp: NewClient, **params: str) -> dict[str, Any]:
    response = bc_authorize(bench, rp, **params)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


def test_discovery_names_the_endpoint_modes_and_grant(bench: Bench) -> None:
    meta = bench.client.get("/.well-known/openid-configuration").json()
    assert meta["backchannel_authentication_endpoint"].endswith("/bc-authorize")
    assert meta["backchannel_token_delivery_modes_supported"] == ["poll", "ping"]
    assert meta["backchannel_user_code_parameter_supported"] is False
    assert "urn:openid:params:grant-type:ciba" in meta["grant_types_supported"]


def test_poll_mode_end_to_end_and_single_use(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    ack = _start(bench, rp, binding_message="工单 4711")
    assert set(ack) == {"auth_req_id", "expires_in", "interval"}
    assert len(ack["auth_req_id"]) >= 27 and ack["expires_in"] == 300 and ack["interval"] == 5
    assert _error(poll(bench, rp, ack["auth_req_id"])) == "authorization_pending"

    link = link_from_outbox(bench)
    page = bench.client.get(f"/ciba/{link}")
    assert "工单 4711" in page.text and "12345 市民热线" in page.text  # binding message and department
    approved = sign_in_for(bench, link)
    assert 'value="approve"' in approved.text
    done = decide(bench, link, "approve")
    assert done.status_code == 200 and 'value="approve"' not in done.text

    with time_machine.travel(time.time() + 6, tick=True):
        token = poll(bench, rp, ack["auth_req_id"])
        assert token.status_code == 200, token.text
        body = token.json()
        assert body["token_type"] == "Bearer" and "id_token" in body and "access_token" in body
        # Single use: the same auth_req_id never yields tokens twice.
        again = poll(bench, rp, ack["auth_req_id"])
        assert again.status_code == 400 and _error(again) == "invalid_grant"


def test_id_token_names_the_person_and_level(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    ack = _start(bench, rp)
    link = link_from_outbox(bench)
    sign_in_for(bench, link)
    decide(bench, link, "approve")
    body = poll(bench, rp, ack["auth_req_id"]).json()
    from idp.oauth.signer import TokenSigner

    claims = TokenSigner(bench.rt).verify(body["id_token"])
    assert claims["aud"] == rp.client_id and claims["acr"] == "urn:yiwang:loa:1" and "sms" in claims["amr"]
    assert claims["auth_time"] <= int(time.time()) and "nonce" not in claims


def test_decline_gives_access_denied(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    ack = _start(bench, rp)
    link = link_from_outbox(bench)
    sign_in_for(bench, link)
    declined = decide(bench, link, "deny")
    assert declined.status_code == 200
    response = poll(bench, rp, ack["auth_req_id"])
    assert response.status_code == 400 and _error(response) == "access_denied"
    # A decided request can't be approved afterwards.
    page = bench.client.get(f"/ciba/{link}")
    assert 'value="approve"' not in page.text


def test_expiry_answers_expired_token(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    ack = _start(bench, rp, requested_expiry="60")
    assert ack["expires_in"] == 60
    link = link_from_outbox(bench)
    with time_machine.travel(time.time() + 61, tick=False):
        assert _error(poll(bench, rp, ack["auth_req_id"])) == "expired_token"
        assert bench.client.get(f"/ciba/{link}").status_code == 404  # nothing left to approve


def test_requested_expiry_is_capped(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    assert _start(bench, rp, requested_expiry="999999")["expires_in"] == 900


def test_polling_too_fast_slows_down_and_the_interval_grows(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    ack = _start(bench, rp)
    start = time.time()
    with time_machine.travel(start, tick=False) as clock:
        assert _error(poll(bench, rp, ack["auth_req_id"])) == "authorization_pending"
        clock.shift(1)
        assert _error(poll(bench, rp, ack["auth_req_id"])) == "slow_down"  # interval now 10 s
        clock.shift(7)
        assert _error(poll(bench, rp, ack["auth_req_id"])) == "slow_down"  # 7 < 10; interval now 15 s
        clock.shift(16)
        assert _error(poll(bench, rp, ack["auth_req_id"])) == "authorization_pending"


def test_unknown_hint_is_indistinguishable(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    known = bc_authorize(bench, rp, login_hint=PHONE)
    unknown = bc_authorize(bench, rp, login_hint=NOBODY)
    assert known.status_code == unknown.status_code == 200
    assert dict(known.headers).keys() == dict(unknown.headers).keys()
    k, u = known.json(), unknown.json()
    assert k.keys() == u.keys() and k["expires_in"] == u["expires_in"] and k["interval"] == u["interval"]
    assert len(k["auth_req_id"]) == len(u["auth_req_id"])
    # Both wait the same way; the unknown one was never sent anywhere and simply expires.
    assert _error(poll(bench, rp, u["auth_req_id"])) == "authorization_pending"
    assert sms_texts(bench, NOBODY) == []
    assert link_from_outbox(bench, PHONE)
    with time_machine.travel(time.time() + 301, tick=False):
        assert _error(poll(bench, rp, u["auth_req_id"])) == "expired_token"


def test_a_hint_that_names_no_one_is_unknown_user_id(bench: Bench) -> None:
    rp = ciba_client(bench)
    response = bc_authorize(bench, rp, login_hint="12345")
    assert response.status_code == 400 and _error(response) == "unknown_user_id"


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"scope": None}, 400, "invalid_request"),
        ({"scope": "profile"}, 400, "invalid_scope"),
        ({"scope": "openid id_card"}, 400, "invalid_scope"),
        ({"login_hint": None}, 400, "invalid_request"),
        ({"login_hint_token": "x"}, 400, "invalid_request"),
        ({"login_hint": None, "id_token_hint": "x.y.z"}, 400, "invalid_request"),
        ({"binding_message": "x" * 33}, 400, "invalid_binding_message"),
        ({"binding_message": "a\nb"}, 400, "invalid_binding_message"),
        ({"binding_message": "<script>"}, 400, "invalid_binding_message"),
        ({"requested_expiry": "0"}, 400, "invalid_request"),
        ({"requested_expiry": "-5"}, 400, "invalid_request"),
        ({"requested_expiry": "ten"}, 400, "invalid_request"),
        ({"request": "eyJ.eyJ.sig"}, 400, "invalid_request"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    bench: Bench, params: dict[str, str | None], status: int, error: str
) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    before = len(sms_texts(bench))
    response = bc_authorize(bench, rp, **params)  # type: ignore[arg-type]
    assert response.status_code == status and _error(response) == error, response.text
    assert _rows(bench) == 0 and len(sms_texts(bench)) == before


def test_client_authentication_and_registration(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    wrong = bench.client.post(
        "/bc-authorize", data={"scope": "openid", "login_hint": PHONE}, auth=(rp.client_id, "not-the-secret")
    )
    assert wrong.status_code == 401 and _error(wrong) == "invalid_client"
    code_client = bench.rp  # registered for the code flow only
    assert code_client.client_secret
    response = bench.client.post(
        "/bc-authorize",
        data={"scope": "openid", "login_hint": PHONE},
        auth=(code_client.client_id, code_client.client_secret),
    )
    assert response.status_code == 400 and _error(response) == "unauthorized_client"
    assert _rows(bench) == 0


def test_ping_client_must_send_a_notification_token(bench: Bench) -> None:
    rp = ciba_client(bench, "ping", "http://127.0.0.1:9/cb")
    assert _error(bc_authorize(bench, rp)) == "invalid_request"
    assert _error(bc_authorize(bench, rp, client_notification_token="has spaces")) == "invalid_request"
    assert _rows(bench) == 0


def test_rate_limit_per_phone_is_the_same_for_unknown_numbers(bench: Bench, settings: Settings) -> None:
    rp = ciba_client(bench)
    for phone in (PHONE, NOBODY):
        answers = [bc_authorize(bench, rp, login_hint=phone).status_code for _ in range(6)]
        assert answers == [200] * 5 + [429]


def test_rate_limit_per_client(bench: Bench) -> None:
    rp = ciba_client(bench)
    first = bc_authorize(bench, rp, login_hint="13800138001").status_code
    provider = bench.client.app.state.provider  # made by the first request
    provider.settings = provider.settings.model_copy(update={"ciba_per_client_per_minute": 2})
    answers = [bc_authorize(bench, rp, login_hint=f"1380013800{i}").status_code for i in range(2, 4)]
    assert [first, *answers] == [200, 200, 429]
    assert _rows(bench) == 2


def test_token_endpoint_errors(bench: Bench) -> None:
    register_person(bench)
    rp, other = ciba_client(bench), ciba_client(bench, name="另一部门")
    ack = _start(bench, rp)
    assert _error(poll(bench, rp, "made-up")) == "invalid_grant"
    assert _error(poll(bench, other, ack["auth_req_id"])) == "invalid_grant"  # issued to another client
    assert rp.client_secret
    missing = bench.client.post(
        "/token", data={"grant_type": "urn:openid:params:grant-type:ciba"}, auth=(rp.client_id, rp.client_secret)
    )
    assert _error(missing) == "invalid_request"
    code_client = bench.rp
    assert code_client.client_secret
    refused = bench.client.post(
        "/token",
        data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": ack["auth_req_id"]},
        auth=(code_client.client_id, code_client.client_secret),
    )
    assert _error(refused) == "unauthorized_client"
    # None of that touched the request: the owner's first poll is still just pending, not slow_down.
    assert _error(poll(bench, rp, ack["auth_req_id"])) == "authorization_pending"


def test_another_person_cannot_approve(bench: Bench) -> None:
    register_person(bench)
    register_person(bench, OTHER)
    rp = ciba_client(bench)
    ack = _start(bench, rp)
    link = link_from_outbox(bench)
    page = sign_in_for(bench, link, phone=OTHER)
    assert 'value="approve"' not in page.text
    forced = bench.client.post(
        f"/ciba/{link}/decide", data={"csrf": form_value(page.text, "csrf"), "decision": "approve"}
    )
    assert 'value="approve"' not in forced.text
    assert _error(poll(bench, rp, ack["auth_req_id"])) == "authorization_pending"


def test_a_session_from_before_the_request_must_sign_in_again(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    bench.code_flow()  # signed in on this browser already
    ack = _start(bench, rp)
    link = link_from_outbox(bench)
    page = bench.client.get(f"/ciba/{link}")
    assert 'value="approve"' not in page.text and "/sign-in" in page.text
    forced = bench.client.post(
        f"/ciba/{link}/decide", data={"csrf": form_value(page.text, "csrf"), "decision": "approve"}
    )
    assert 'value="approve"' not in forced.text
    assert _error(poll(bench, rp, ack["auth_req_id"])) == "authorization_pending"


def test_the_level_asked_for_must_be_reached(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    ack = _start(bench, rp, acr_values="urn:yiwang:loa:2")
    link = link_from_outbox(bench)
    page = bench.client.get(f"/ciba/{link}")
    started = bench.client.post(f"/ciba/{link}/sign-in", data={"csrf": form_value(page.text, "csrf")})
    after = bench.sign_in(started.headers["location"])
    # The engine asks for the step-up (loa:2 needs proof of the ID number), not the approval.
    assert after.status_code in (302, 303) and after.headers["location"].startswith("/stepup")
    page = bench.client.get(f"/ciba/{link}")
    assert 'value="approve"' not in page.text
    forced = bench.client.post(
        f"/ciba/{link}/decide", data={"csrf": form_value(page.text, "csrf"), "decision": "approve"}
    )
    assert 'value="approve"' not in forced.text
    assert _error(poll(bench, rp, ack["auth_req_id"])) == "authorization_pending"


def test_decide_needs_the_form_token(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    ack = _start(bench, rp)
    link = link_from_outbox(bench)
    sign_in_for(bench, link)
    forged = bench.client.post(f"/ciba/{link}/decide", data={"csrf": "forged", "decision": "approve"})
    assert forged.status_code == 400
    assert _error(poll(bench, rp, ack["auth_req_id"])) == "authorization_pending"


class _Listener:
    """A real HTTP server on a free loopback port, recording what arrives."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                received.append({"auth": self.headers.get("authorization"), "body": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ciba-callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[_Listener]:
    server = _Listener()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_ping_mode_notifies_the_client(bench: Bench, listener: _Listener, decision: str) -> None:
    register_person(bench)
    rp = ciba_client(bench, "ping", listener.url)
    ack = _start(bench, rp, client_notification_token="bearer-8f2a.token_x")
    link = link_from_outbox(bench)
    sign_in_for(bench, link)
    assert listener.received == []
    decide(bench, link, decision)
    assert listener.received == [{"auth": "Bearer bearer-8f2a.token_x", "body": {"auth_req_id": ack["auth_req_id"]}}]
    answer = poll(bench, rp, ack["auth_req_id"])
    if decision == "approve":
        assert answer.status_code == 200 and "access_token" in answer.json()
    else:
        assert _error(answer) == "access_denied"


def test_a_ping_that_fails_is_not_fatal(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench, "ping", "http://127.0.0.1:9/nobody-listens")
    ack = _start(bench, rp, client_notification_token="tok")
    link = link_from_outbox(bench)
    sign_in_for(bench, link)
    assert decide(bench, link, "approve").status_code == 200
    assert poll(bench, rp, ack["auth_req_id"]).status_code == 200  # the client can still poll


def test_nothing_personal_in_the_request_row(bench: Bench) -> None:
    register_person(bench)
    rp = ciba_client(bench)
    ack = _start(bench, rp, binding_message="张三 4711")
    with bench.rt.transaction() as session:
        row = session.scalars(select(CibaRequest)).one()
        stored = json.dumps({c.name: str(getattr(row, c.name)) for c in CibaRequest.__table__.columns})
    assert "张三" not in stored and ack["auth_req_id"] not in stored and PHONE not in stored
