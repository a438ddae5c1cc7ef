"""The kiosk in a real browser: the sandbox kiosk screen at 1080×1920 (portrait touch screen) and the citizen's
phone at 375 px. Scan to sign in (RFC 8628) with the approval on the phone; sign in on the kiosk itself with
the number pad; shared-device mode leaves no SSO cookie, and the idle timeout clears the screen."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from idp.records import people
from idp.runtime import open_runtime
from tests.browser.conftest import LiveServer, assert_no_sideways_scroll, fresh_phone, new_context

KIOSK = {"width": 1080, "height": 1920}
ID_NUMBER = "11010519491231002X"


@pytest.fixture
def kiosk(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=KIOSK, device_scale_factor=1, has_touch=True, locale="zh-CN")  # type: ignore[arg-type]
    context.set_default_timeout(30_000)
    yield context
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = new_context(browser, "phone")
    context.set_default_timeout(30_000)
    yield context
    context.close()


def _proven_person(server: LiveServer, number: str) -> None:
    """A citizen whose name the kiosk may show (proofing level 2, ID proven): set up as test data."""
    rt = open_runtime(server.settings)
    try:
        with rt.transaction() as session:
            person = people.add(session, rt.protector, id_number=ID_NUMBER, name="张三", phone=number)
            person.proofing_level, person.id_proof = 2, 2
    finally:
        rt.close()


def _sign_in_on_phone_page(page: Page, server: LiveServer, number: str) -> None:
    page.fill("input[name=phone]", number)
    page.click("button.send")
    page.wait_for_selector("input[name=code]")
    page.fill("input[name=code]", server.sms_code(number))
    page.check("#agree")
    page.click("button[name=decision][value=approve]")


def _seconds_left(page: Page) -> int:
    found = re.search(r"\d+", page.inner_text("#kiosk-idle"))
    assert found, page.inner_text("#kiosk-idle")
    return int(found.group())


def _session_cookies(context: BrowserContext) -> list[str]:
    return [c["name"] for c in context.cookies() if c["name"] == "yw_session"]


def test_scan_to_sign_in(
    kiosk: BrowserContext, phone: BrowserContext, live_server: LiveServer, shot: Callable[[Page, str], Path]
) -> None:
    number = fresh_phone()
    _proven_person(live_server, number)
    screen = kiosk.new_page()
    screen.goto(live_server.url("/demo/kiosk"))
    assert_no_sideways_scroll(screen)
    shot(screen, "kiosk-home")
    screen.click("button.kiosk-scan")
    screen.wait_for_selector("#user-code")
    user_code = screen.inner_text("#user-code").strip()
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", user_code)
    qr_box = screen.locator(".qr svg").bounding_box()
    assert qr_box is not None and qr_box["width"] >= 500  # scannable from a phone held at arm's length
    finish_box = screen.locator("button.kiosk-finish").bounding_box()
    assert finish_box is not None and finish_box["height"] >= 96  # a touch target on a 1080-wide screen
    assert_no_sideways_scroll(screen)
    shot(screen, "kiosk-qr")

    # The phone opens what the QR code holds: the code is filled in, and nothing happens until it continues.
    mobile = phone.new_page()
    mobile.goto(live_server.url(f"/device?user_code={user_code}"))
    assert mobile.input_value("#user_code") == user_code
    assert_no_sideways_scroll(mobile)
    shot(mobile, "phone-code")
    mobile.click("button[type=submit]")
    mobile.wait_for_url(re.compile(r"/login\?flow="))
    _sign_in_on_phone_page(mobile, live_server, number)
    mobile.wait_for_url(re.compile(r"/device/confirm\?flow="))
    assert "东区政务服务大厅 自助终端 3 号" in mobile.inner_text("main")
    assert_no_sideways_scroll(mobile)
    shot(mobile, "phone-confirm")
    mobile.click("button[value=approve]")
    mobile.wait_for_url(re.compile(r"/device/done"))
    assert "已允许" in mobile.inner_text("main")

    screen.wait_for_selector("#kiosk-status:has-text('已登录')", timeout=60_000)
    assert screen.inner_text("#kiosk-status") == "已登录：张*"
    assert "张三" not in screen.content() and number not in screen.content()
    shot(screen, "kiosk-signed-in")
    screen.click("button.kiosk-finish")
    screen.wait_for_url(re.compile(r"/demo/kiosk\?cleared=1"))
    assert "张" not in screen.inner_text("main")
    assert _session_cookies(kiosk) == []


def test_sign_in_here_with_the_number_pad_leaves_no_sso_cookie(
    kiosk: BrowserContext, live_server: LiveServer, shot: Callable[[Page, str], Path]
) -> None:
    number = fresh_phone()
    screen = kiosk.new_page()
    screen.goto(live_server.url("/demo/kiosk"))
    screen.click("button.kiosk-here")
    screen.wait_for_url(re.compile(r"/login\?flow="))
    assert screen.get_attribute("input[name=phone]", "autocomplete") == "off"
    pad = screen.locator(".kiosk-pad")
    assert pad.count() == 1
    screen.click("input[name=phone]")
    for digit in number:
        pad.locator(f"button[data-key='{digit}']").click()
    assert screen.input_value("input[name=phone]") == number
    key = pad.locator("button[data-key='5']").bounding_box()
    assert key is not None and key["height"] >= 96
    shot(screen, "kiosk-login")
    screen.click("button.send")
    screen.wait_for_selector("input[name=code]")
    screen.click("input[name=code]")
    for digit in live_server.sms_code(number):
        pad.locator(f"button[data-key='{digit}']").click()
    screen.check("#agree")
    screen.click("button[name=decision][value=approve]")
    screen.wait_for_selector("#kiosk-status")
    assert screen.inner_text("#kiosk-status") == f"已登录：{number[:3]}****{number[-4:]}"
    assert _session_cookies(kiosk) == []  # the sign-in ended with its journey
    shot(screen, "kiosk-signed-in-here")
    screen.click("button.kiosk-finish")
    screen.wait_for_url(re.compile(r"/demo/kiosk\?cleared=1"))


def test_idle_timeout_clears_the_screen(kiosk: BrowserContext, live_server: LiveServer) -> None:
    screen = kiosk.new_page()
    screen.clock.install()
    screen.goto(live_server.url("/demo/kiosk"))
    screen.click("button.kiosk-here")
    screen.wait_for_url(re.compile(r"/login\?flow="))
    screen.fill("input[name=phone]", fresh_phone())
    assert _seconds_left(screen) == 90
    screen.clock.run_for(60_000)
    assert 28 <= _seconds_left(screen) <= 30  # the countdown is shown
    screen.locator("input[name=phone]").click()  # a touch starts the countdown again
    screen.clock.run_for(60_000)
    assert screen.url.startswith(live_server.url("/login"))
    screen.clock.run_for(31_000)  # untouched for 91 s: the flow is cancelled and the screen cleared
    screen.wait_for_url(re.compile(r"/demo/kiosk\?cleared=1|/demo/kiosk$"))
    assert screen.locator("input[name=phone]").count() == 0
    assert _session_cookies(kiosk) == []


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_kiosk_and_device_pages_fit_narrow_and_wide_screens(
    browser: Browser, live_server: LiveServer, width: str
) -> None:
    context = new_context(browser, width)
    try:
        page = context.new_page()
        for path in ["/demo/kiosk", "/device", "/device/done?result=approved"]:
            page.goto(live_server.url(path))
            assert_no_sideways_scroll(page)
        assert page.evaluate("() => document.body.classList.contains('kiosk')") is False
    finally:
        context.close()
