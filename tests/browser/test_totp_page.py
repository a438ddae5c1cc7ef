"""Setting up an authenticator in a real browser: QR code visible, key readable, recovery codes shown once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyotp
from playwright.sync_api import Page

from tests.browser.conftest import LiveServer, assert_no_sideways_scroll, fresh_phone, sign_in_through_demo


def test_enrol_an_authenticator(page: Page, live_server: LiveServer, shot: Callable[[Page, str], Path]) -> None:
    sign_in_through_demo(page, live_server, fresh_phone())
    page.goto(live_server.url("/account/totp"))
    assert_no_sideways_scroll(page)
    page.click("form[action='/account/totp/start'] button")
    page.wait_for_selector(".qr svg")
    box = page.locator(".qr svg").bounding_box()
    assert box is not None and box["width"] >= 200  # big enough to scan off a screen
    page.click("details summary")
    secret = page.inner_text("#totp-secret").replace(" ", "")
    assert_no_sideways_scroll(page)
    shot(page, "qr")
    page.reload()  # reloading shows the same key
    page.click("details summary")
    assert page.inner_text("#totp-secret").replace(" ", "") == secret
    page.fill("form[action='/account/totp/confirm'] input[name=code]", pyotp.TOTP(secret).now())
    page.click("form[action='/account/totp/confirm'] button")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    assert_no_sideways_scroll(page)
    shot(page, "recovery-codes")
