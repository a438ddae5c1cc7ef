"""RFC 8628 in-process: the device authorization endpoint, the person's journey at /device (user code, SMS
sign-in, approval page), and the device-code grant's answers at /token, each as §3.5 says. Time moves with
time-machine, never with sleeps."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
import time_machine
from httpx import Response
from sqlalchemy import select

from idp.db import utcnow
from idp.oauth.clients import DEVICE_CODE, NewClient
from idp.oauth.device import ALPHABET
from idp.oauth.device_models import DeviceGrant
from idp.settings import Settings
from tests.oauth.conftest import PHONE, Bench, form_value

USER_CODE = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


def kiosk(bench: Bench, **kwargs: Any) -> NewClient:
    kwargs.setdefault("name", "东区大厅 3 号自助机")
    kwargs.setdefault("grant_types", [DEVICE_CODE])
    kwargs.setdefault("auth_method", "none")
    kwargs.setdefault("redirect_uris", [])
    kwargs.setdefault("scopes", ["openid", "profile", "phone"])
    return bench.register(**kwargs)


def start(bench: Bench, rp: NewClient, **params: str) -> Response:
    data = {"scope": "openid profile", **params}
    if rp.client_secret:
        return bench.client.post("/device_authorization", data=data, auth=(rp.client_id, rp.client_secret))
    return bench.client.post("/device_authorization", data={"client_id": rp.client_id, **data})


def poll(bench: Bench, rp: NewClient, device_code: str) -> Response:
    data = {"grant_type": DEVICE_CODE, "device_code": device_code}
    if rp.client_secret:
        return bench.client.post("/token", data=data, auth=(rp.client_id, rp.client_secret))
    return bench.client.post("/token", data={"client_id": rp.client_id, **data})


def enter_code(bench: Bench, user_code: str) -> Response:
    page = bench.client.get("/device", params={"user_code": user_code})
    assert page.status_code == 200
    return bench.client.post("/device", data={"user_code": user_code, "csrf": form_value(page.text, "csrf")})


def answer(bench: Bench, confirm_location: str, decision: str) -> Response:
    page = bench.client.get(confirm_location)
    assert page.status_code == 200, page.text
    form = {"flow": form_value(page.text, "flow"), "csrf": form_value(page.text, "csrf"), "decision": decision}
    return bench.client.post("/device/confirm", data=form)


def journey_to_confirm(bench: Bench, user_code: str, phone: str = PHONE) -> str:
    """The person's phone: code → sign in by SMS → the approval page's address."""
    entered = enter_code(bench, user_code)
    assert entered.status_code == 303, entered.text
    location = entered.headers["location"]
    if location.startswith("/login"):
        signed = bench.sign_in(location, phone)
        assert signed.status_code in (302, 303), signed.text
        location = signed.headers["location"]
    assert location.startswith("/device/confirm?flow="), location
    return location


def grant_row(bench: Bench, device_code: str) -> DeviceGrant:
    with bench.rt.transaction() as session:
        row = session.get(DeviceGrant, hashlib.sha256(device_code.encode()).hexdigest())
        assert row is not None
        session.expunge(row)
        return row


def test_discovery_names_the_endpoint_and_the_grant(bench: Bench) -> None:
    meta = bench.client.get("/.well-known/openid-configuration").json()
    assert meta["device_authorization_endpoint"] == "http://127.0.0.1:8000/device_authorization"
    assert DEVICE_CODE in meta["grant_types_supported"]


def test_device_authorization_response_and_storage(bench: Bench) -> None:
    rp = kiosk(bench)
    response = start(bench, rp, acr_values="urn:yiwang:loa:2")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert USER_CODE.match(body["user_code"])
    assert body["verification_uri"] == "http://127.0.0.1:8000/device"
    assert body["verification_uri_complete"] == f"http://127.0.0.1:8000/device?user_code={body['user_code']}"
    assert (body["expires_in"], body["interval"]) == (600, 5)
    row = grant_row(bench, body["device_code"])  # found by the hash: stored hashed
    assert row.status == "pending" and row.acr_values == "urn:yiwang:loa:2" and row.scope == "openid profile"
    with bench.rt.transaction() as session:
        stored = [str(v) for v in session.execute(select(DeviceGrant.__table__)).one()]
    plain = body["user_code"].replace("-", "")
    assert not any(body["device_code"] in v or plain in v for v in stored)


def test_only_clients_registered_for_the_grant_may_use_it(bench: Bench) -> None:
    web_only = bench.register(auth_method="none")
    refused = start(bench, web_only)
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    body = start(bench, kiosk(bench)).json()
    stolen = poll(bench, web_only, body["device_code"])
    assert stolen.status_code == 400 and stolen.json()["error"] == "unauthorized_client"


def test_confidential_kiosk_must_authenticate(bench: Bench) -> None:
    rp = kiosk(bench, auth_method="client_secret_basic")
    assert start(bench, rp).status_code == 200
    bad = bench.client.post("/device_authorization", data={"scope": "openid"}, auth=(rp.client_id, "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


def test_pending_then_slow_down_adds_five_seconds_each_time(bench: Bench) -> None:
    rp = kiosk(bench)
    with time_machine.travel(utcnow(), tick=False) as clock:
        code = start(bench, rp).json()["device_code"]
        first = poll(bench, rp, code)
        assert first.status_code == 400 and first.json()["error"] == "authorization_pending"
        clock.shift(2)
        too_fast = poll(bench, rp, code)
        assert too_fast.json()["error"] == "slow_down"
        assert grant_row(bench, code).interval == 10
        clock.shift(6)  # enough for 5, not for 10: slow_down holds "for all subsequent requests"
        assert poll(bench, rp, code).json()["error"] == "slow_down"
        assert grant_row(bench, code).interval == 15
        clock.shift(16)
        assert poll(bench, rp, code).json()["error"] == "authorization_pending"
        assert grant_row(bench, code).interval == 15


def test_approval_gives_tokens_once(bench: Bench) -> None:
    rp = kiosk(bench)
    body = start(bench, rp).json()
    confirm = journey_to_confirm(bench, body["user_code"].lower().replace("-", ""))  # any case, dash optional
    page = bench.client.get(confirm)
    assert "东区大厅 3 号自助机" in page.text and page.headers["cache-control"] == "no-store"
    done = answer(bench, confirm, "approve")
    assert done.headers["location"] == "/device/done?result=approved"
    tokens = poll(bench, rp, body["device_code"])
    assert tokens.status_code == 200, tokens.text
    issued = tokens.json()
    assert issued["token_type"].lower() == "bearer" and "id_token" in issued and "refresh_token" not in issued
    info = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {issued['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"]
    again = poll(bench, rp, body["device_code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_declined_is_access_denied(bench: Bench) -> None:
    rp = kiosk(bench)
    body = start(bench, rp).json()
    done = answer(bench, journey_to_confirm(bench, body["user_code"]), "decline")
    assert done.headers["location"] == "/device/done?result=denied"
    assert poll(bench, rp, body["device_code"]).json()["error"] == "access_denied"


def test_cancelled_sign_in_is_access_denied(bench: Bench) -> None:
    rp = kiosk(bench)
    body = start(bench, rp).json()
    login = enter_code(bench, body["user_code"]).headers["location"]
    page = bench.client.get(login)
    form = {"flow": form_value(page.text, "flow"), "csrf": form_value(page.text, "csrf"), "decision": "cancel"}
    assert bench.client.post("/login/code", data=form).headers["location"] == "/device/done?result=denied"
    assert poll(bench, rp, body["device_code"]).json()["error"] == "access_denied"


def test_expired_is_expired_token_and_can_no_longer_be_approved(bench: Bench) -> None:
    rp = kiosk(bench)
    with time_machine.travel(utcnow(), tick=False) as clock:
        body = start(bench, rp).json()
        confirm = journey_to_confirm(bench, body["user_code"])
        clock.shift(601)
        late = answer(bench, confirm, "approve")
        assert late.status_code == 410
        assert poll(bench, rp, body["device_code"]).json()["error"] == "expired_token"
        assert grant_row(bench, body["device_code"]).status == "pending"
        entered = enter_code(bench, body["user_code"])
        assert entered.status_code == 400 and "没有找到该代码" in entered.text


def test_a_refused_poll_changes_nothing(bench: Bench) -> None:
    rp, other = kiosk(bench), kiosk(bench)
    code = start(bench, rp).json()["device_code"]
    before = grant_row(bench, code)
    refused = poll(bench, other, code)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    after = grant_row(bench, code)
    assert (after.status, after.interval, after.last_poll_at) == (before.status, before.interval, None)
    assert poll(bench, rp, "not-a-code").json()["error"] == "invalid_grant"


def test_opening_the_complete_uri_approves_nothing(bench: Bench) -> None:
    rp = kiosk(bench)
    body = start(bench, rp).json()
    page = bench.client.get(body["verification_uri_complete"].removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 200 and f'value="{body["user_code"]}"' in page.text
    assert grant_row(bench, body["device_code"]).status == "pending"
    assert poll(bench, rp, body["device_code"]).json()["error"] == "authorization_pending"


@pytest.mark.parametrize("scope", ["per_ip", "everyone"])
def test_user_code_guesses_are_limited(bench: Bench, settings: Settings, scope: str) -> None:
    if scope == "per_ip":
        settings.device_guesses_per_ip_per_10min = 3
    else:
        settings.device_guesses_per_10min = 3
    rp = kiosk(bench)
    body = start(bench, rp).json()
    for _ in range(3):
        wrong = enter_code(bench, "BCDF-GHJK" if body["user_code"] != "BCDF-GHJK" else "ZZZZ-ZZZZ")
        assert wrong.status_code == 400
    right = enter_code(bench, body["user_code"])
    assert right.status_code == 429 and "尝试次数过多" in right.text
    assert grant_row(bench, body["device_code"]).status == "pending"


def test_malformed_codes_are_a_field_error(bench: Bench) -> None:
    for typed in ["", "ABCD-EFGH", "BCDF-GHJ", "BCDF-GHJK-L", "<script>"]:
        response = enter_code(bench, typed)
        assert response.status_code == 400 and "8 个字母" in response.text


def test_the_level_asked_for_is_the_level_signed_in(bench: Bench) -> None:
    rp = kiosk(bench)
    body = start(bench, rp, acr_values="urn:yiwang:loa:3").json()
    login = enter_code(bench, body["user_code"]).headers["location"]
    signed = bench.sign_in(login)
    assert signed.headers["location"].startswith("/stepup?flow="), signed.headers["location"]
    assert poll(bench, rp, body["device_code"]).json()["error"] == "authorization_pending"


def test_an_existing_session_on_the_phone_goes_straight_to_approval(bench: Bench) -> None:
    bench.tokens()  # the phone signed in to a web application earlier
    rp = kiosk(bench)
    body = start(bench, rp).json()
    entered = enter_code(bench, body["user_code"])
    assert entered.headers["location"].startswith("/device/confirm?flow=")
