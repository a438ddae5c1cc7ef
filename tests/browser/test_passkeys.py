"""Passkeys in a real browser: Chromium's virtual authenticator (CDP `WebAuthn.addVirtualAuthenticator`: CTAP2,
internal, resident keys, user verification) stands in for a phone's platform authenticator. A citizen signs in
by SMS, adds a passkey at /account/passkeys, signs out, and signs in again with the passkey alone — at phone and
desktop widths, no page scrolling sideways.

WebAuthn needs a domain for its RP ID (an IP address is refused), so this module's server is named `localhost`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from idp.oauth import sessions
from tests.browser.conftest import (
    WIDTHS,
    LiveServer,
    _chromium_or_skip,
    assert_no_sideways_scroll,
    fresh_phone,
    new_context,
    serve,
    sign_in_through_demo,
)


@pytest.fixture(scope="module")
def localhost_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _chromium_or_skip()
    with serve(tmp_path_factory.mktemp("passkey-server"), host="localhost") as server:
        yield server


@pytest.mark.parametrize("width", list(WIDTHS))
def test_register_a_passkey_sign_out_and_sign_in_with_it(
    width: str, browser: Browser, localhost_server: LiveServer, shot: Callable[[Page, str], Path]
) -> None:
    server = localhost_server
    context = new_context(browser, width)
    page = context.new_page()
    page.set_default_timeout(15_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]
    try:
        sign_in_through_demo(page, server, fresh_phone())

        page.goto(server.url("/account/passkeys"))
        page.wait_for_selector("#passkey-register:not([hidden])")
        assert page.locator("ul.passkeys li").count() == 0
        assert_no_sideways_scroll(page)
        shot(page, "empty")
        page.fill("#passkey-name", "我的手机")
        page.click("#passkey-register button")
        page.wait_for_url(re.compile(r"/account/passkeys\?done=added"))
        assert page.locator("ul.passkeys li").count() == 1
        assert page.inner_text("ul.passkeys .passkey-name") == "我的手机"
        assert "通行密钥已添加" in page.inner_text("main")
        assert_no_sideways_scroll(page)
        shot(page, "added")
        page.goto(server.url("/account/passkeys?lang=en"))  # the same page in English
        assert page.inner_text("h1") == "Passkeys" and page.inner_text("#passkey-register button") == "Add a passkey"
        assert_no_sideways_scroll(page)
        shot(page, "english")

        # Sign out, as a citizen does it from the application.
        page.goto(server.url("/demo/logout"))  # the application's RP-initiated logout (with its ID token hint)
        if page.locator("form[action='/logout'] button").count():
            page.click("form[action='/logout'] button")  # asked to confirm
        page.wait_for_url(re.compile(r"/(demo|logout)"))
        assert sessions.COOKIE not in {c["name"] for c in page.context.cookies(server.url("/"))}

        page.goto(server.url("/demo"))
        page.click("form[action='/demo/login'] button")
        page.wait_for_url(re.compile(r"/login\?flow="))
        page.wait_for_selector("#passkey-login:not([hidden])")
        assert_no_sideways_scroll(page)
        shot(page, "login")
        page.click("#passkey-login button")  # no phone typed: the authenticator names the account
        page.wait_for_url(re.compile(r"/demo/callback"))
        claims = page.inner_text("table")
        assert "urn:yiwang:loa:1" in claims and "pop" in claims and "user" in claims
        assert_no_sideways_scroll(page)
        shot(page, "signed-in")
        credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        assert len(credentials) == 1 and credentials[0]["isResidentCredential"] and credentials[0]["signCount"] >= 1
    finally:
        context.close()
