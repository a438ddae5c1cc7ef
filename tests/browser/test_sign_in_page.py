"""The one-page sign-in as a person meets it in Chromium, at phone and desktop widths: the countdown on
获取验证码, the number kept, "还可尝试 N 次", the agreement asked for next to its checkbox, no sideways scroll."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page

from tests.browser.conftest import LiveServer, assert_no_sideways_scroll, fresh_phone


def test_the_sign_in_page_guides_a_person_through_their_mistakes(
    page: Page, live_server: LiveServer, shot: Callable[[Page, str], Path]
) -> None:
    phone = fresh_phone()
    page.goto(live_server.url("/demo"))
    page.click("form[action='/demo/login'] button")
    page.wait_for_url(re.compile(r"/login\?flow="))
    assert "urn:yiwang" not in page.content()
    page.click("button.send")  # no number yet
    page.wait_for_url(re.compile(r"/login/sms"))
    assert "请输入手机号码" in page.inner_text(".field-error")
    page.fill("#phone", phone)
    page.click("button.send")
    page.wait_for_url(re.compile(r"/login/sms"))
    send = page.locator("button.send")
    assert send.is_disabled() and re.search(r"\d+ 秒后可重新获取", send.inner_text())  # the countdown runs
    assert page.input_value("#phone") == phone
    shot(page, "code-sent")
    assert_no_sideways_scroll(page)
    right = live_server.sms_code(phone)
    page.fill("#code", f"{(int(right) + 1) % 1_000_000:06d}")
    page.check("#agree")
    page.click("button[name=decision][value=approve]")
    page.wait_for_load_state()
    assert "还可尝试 4 次" in page.inner_text(".field-error")
    assert page.input_value("#phone") == phone  # the number survives the error
    page.fill("#code", right)
    page.uncheck("#agree")
    page.click("button[name=decision][value=approve]")
    page.wait_for_load_state()
    assert "用户服务协议" in page.inner_text(".field-error")
    assert page.input_value("#code") == right  # only the agreement was missing: the code is kept
    shot(page, "agreement-missing")
    assert_no_sideways_scroll(page)
    page.check("#agree")
    page.click("button[name=decision][value=approve]")
    page.wait_for_url(re.compile(r"/demo/callback"))
    assert "已通过一网统一身份认证登录" in page.inner_text("main")
