"""Shared-device mode (kiosks): a sign-in lasts as long as its journey, the browser keeps no SSO cookie, and
whoever signed in on the screen before is never the person standing there now."""

from __future__ import annotations

from sqlalchemy import select

from idp.oauth import sessions
from idp.oauth.models import LoginSession
from tests.oauth.conftest import Bench, form_value


def test_no_sso_cookie_and_the_session_ends_with_the_journey(bench: Bench) -> None:
    rp = bench.register(shared_device=True)
    result = bench.code_flow(rp)
    assert "code" in result
    assert sessions.COOKIE not in bench.client.cookies
    with bench.rt.transaction() as session:
        assert all(row.ended_at is not None for row in session.scalars(select(LoginSession)))
    tokens = bench.exchange(result["code"], rp)
    assert tokens.status_code == 200, tokens.text
    again = bench.authorize(**bench.auth_params(rp))
    assert again.headers["location"].startswith("/login?flow=")


def test_an_earlier_sign_in_in_the_same_browser_is_not_used(bench: Bench) -> None:
    bench.tokens()  # someone signed in to an ordinary application in this browser
    assert sessions.COOKIE in bench.client.cookies
    kiosk = bench.register(shared_device=True)
    first = bench.authorize(**bench.auth_params(kiosk))
    assert first.headers["location"].startswith("/login?flow=")
    ordinary = bench.authorize(**bench.auth_params())
    assert ordinary.headers["location"].startswith("https://rp.example/cb?code=")  # the control: SSO works


def test_cancel_on_a_shared_screen_ends_its_sign_in(bench: Bench) -> None:
    kiosk = bench.register(shared_device=True, default_acr="urn:yiwang:loa:3")
    first = bench.authorize(**bench.auth_params(kiosk))
    signed = bench.sign_in(first.headers["location"])
    assert signed.headers["location"].startswith("/stepup?flow=")  # signed in, the level not yet reached
    assert sessions.COOKIE in bench.client.cookies
    flow = signed.headers["location"].split("flow=")[1]
    page = bench.client.get("/login", params={"flow": flow})
    form = {"flow": flow, "csrf": form_value(page.text, "csrf"), "decision": "cancel"}
    cancelled = bench.client.post("/login/code", data=form)
    assert "error=access_denied" in cancelled.headers["location"]
    assert sessions.COOKIE not in bench.client.cookies
    with bench.rt.transaction() as session:
        assert all(row.ended_at is not None for row in session.scalars(select(LoginSession)))


def test_client_registration_records_the_flag(bench: Bench) -> None:
    from idp.oauth import clients

    rp = bench.register(shared_device=True)
    with bench.rt.transaction() as session:
        assert clients.describe(clients.get_row(session, rp.client_id))["shared_device"] is True


def test_pages_on_a_shared_screen_are_never_stored_nor_autofilled(bench: Bench) -> None:
    kiosk = bench.register(shared_device=True)
    login = bench.client.get(bench.authorize(**bench.auth_params(kiosk)).headers["location"])
    assert login.headers["cache-control"] == "no-store"
    assert 'class="kiosk"' in login.text and 'data-idle="90"' in login.text
    assert 'id="kiosk-finish"' in login.text and 'value="cancel"' in login.text
    assert 'autocomplete="tel-national"' not in login.text and 'autocomplete="off"' in login.text
    ordinary = bench.client.get(bench.authorize(**bench.auth_params()).headers["location"])
    assert 'class="kiosk"' not in ordinary.text and "cache-control" not in ordinary.headers
    assert 'autocomplete="tel-national"' in ordinary.text
