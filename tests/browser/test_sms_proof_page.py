"""The proof of work before a repeated SMS send, in Chromium at phone and desktop widths: with JavaScript the
page finds the proof and the code is sent; without it the page asks for a wait, and nothing is sent."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page

from tests.browser.conftest import WIDTHS, LiveServer, assert_no_sideways_scroll, fresh_phone, new_context


def _outbox(server: LiveServer, phone: str) -> int:
    response = httpx.get(server.url("/sandbox/sms/outbox"), params={"phone": phone}, timeout=10)
    return len(response.json()["messages"])


def _ask_for_a_code(page: Page, server: LiveServer, phone: str) -> None:
    page.goto(server.url("/demo"))
    page.click("form[action='/demo/login'] button")
    page.wait_for_url(re.compile(r"/login\?flow="))
    page.fill("#phone", phone)
    page.click("button.send")
    # The proof of work takes a second or two on a phone; far longer on a loaded test machine.
    page.wait_for_url(re.compile(r"/login/sms"), timeout=120_000)


def test_a_second_device_sends_after_the_pages_proof_of_work(
    page: Page, live_server: LiveServer, browser: Browser, shot: Callable[[Page, str], Path]
) -> None:
    phone = fresh_phone()
    first = new_context(browser, "phone")
    try:
        _ask_for_a_code(first.new_page(), live_server, phone)  # the number's first code: no proof needed
    finally:
        first.close()
    assert _outbox(live_server, phone) == 1
    _ask_for_a_code(page, live_server, phone)  # another browser: the page proves its work before sending
    assert "验证码已发送" in page.inner_text("main"), page.inner_text("main")
    assert _outbox(live_server, phone) == 2
    shot(page, "sent-after-proof")
    assert_no_sideways_scroll(page)


def test_without_javascript_the_page_asks_for_a_wait(
    browser: Browser, live_server: LiveServer, shot: Callable[[Page, str], Path]
) -> None:
    phone = fresh_phone()
    first = new_context(browser, "phone")
    try:
        _ask_for_a_code(first.new_page(), live_server, phone)
    finally:
        first.close()
    for width in WIDTHS:
        context = new_context(browser, width, java_script_enabled=False)
        try:
            page = context.new_page()
            _ask_for_a_code(page, live_server, phone)
            error = page.inner_text(".field-error")
            assert "为防止滥用" in error and re.search(r"\d+ 秒", error), error
            assert page.input_value("#phone") == phone
            shot(page, f"wait-without-js-{width}")
            assert_no_sideways_scroll(page)
        finally:
            context.close()
    assert _outbox(live_server, phone) == 1  # nothing more was sent
