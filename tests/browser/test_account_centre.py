"""The account centre in Chromium at 375 px and 1280 px: a citizen opens it from the header, revokes a consent,
signs their other device out, downloads their data and closes the account; then every table is scanned for
their phone number and its blind index."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from idp.runtime import open_runtime
from tests.browser.conftest import (
    LiveServer,
    assert_no_sideways_scroll,
    fresh_phone,
    new_context,
    sign_in_through_demo,
)
from tests.test_no_plaintext import every_row, found_in


def _visit(page: Page, path: str, shot: Callable[[Page, str], Path], server: LiveServer) -> None:
    page.goto(server.url(path))
    assert_no_sideways_scroll(page)
    shot(page, path.strip("/").replace("/", "-"))


def test_a_citizen_manages_and_closes_their_account(
    page: Page, browser: Browser, live_server: LiveServer, shot: Callable[[Page, str], Path]
) -> None:
    phone = fresh_phone()
    sign_in_through_demo(page, live_server, phone)
    other_device = new_context(browser, "phone")
    other = other_device.new_page()
    other.set_default_timeout(15_000)
    sign_in_through_demo(other, live_server, phone)

    page.click("header a.account-link")  # 我的
    page.wait_for_url(re.compile(r"/account$"))
    expect(page.locator("h1")).to_have_text("我的账号")
    assert_no_sideways_scroll(page)
    shot(page, "overview")

    _visit(page, "/account/consents", shot, live_server)
    page.click("form[action='/account/consents/revoke'] button")
    page.wait_for_url(re.compile(r"/account/consents$"))
    expect(page.locator("form[action='/account/consents/revoke']")).to_have_count(0)

    _visit(page, "/account/sessions", shot, live_server)
    cards = page.locator("li.card")
    expect(cards).to_have_count(2)
    cards.filter(has_not_text="当前设备").locator("button").click()
    page.wait_for_url(re.compile(r"/account/sessions\?ended=1$"))
    expect(page.locator("li.card")).to_have_count(1)
    assert_no_sideways_scroll(page)
    shot(page, "signed-a-device-out")
    other.goto(live_server.url("/account"))
    expect(other.locator("form[action='/account/signin'] button")).to_be_visible()  # that device is signed out
    other_device.close()

    for path in ("/account/history", "/account/face", "/account/signatures", "/account/totp"):
        _visit(page, path, shot, live_server)

    _visit(page, "/account/data", shot, live_server)
    with page.expect_download() as download:
        page.click("form[action='/account/data'] button")
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert data["person"]["phone"] == "+86" + phone

    _visit(page, "/account/close", shot, live_server)
    page.fill("#confirm-word", "注销")
    page.click("form[action='/account/close'] button")
    expect(page.locator("h1")).to_have_text("账号已注销")
    assert_no_sideways_scroll(page)
    shot(page, "closed")
    expect(page.locator("header a.account-link")).to_have_text("登录")

    rt = open_runtime(live_server.settings)
    try:
        index = rt.protector.index("phone", "+86" + phone)
        assert found_in(every_row(rt.engine), [phone, "+86" + phone, index]) == []
    finally:
        rt.close()
