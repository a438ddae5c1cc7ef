"""The demo relying party's sign-in in a real browser, at phone and desktop widths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page

from tests.browser.conftest import LiveServer, fresh_phone, sign_in_through_demo


def test_demo_sign_in_journey(page: Page, live_server: LiveServer, shot: Callable[[Page, str], Path]) -> None:
    phone = fresh_phone()
    sign_in_through_demo(page, live_server, phone)
    shot(page, "signed-in")
    body = page.inner_text("main")
    assert "已通过一网统一身份认证登录" in body
    assert phone not in page.content()  # the relying party's page shows the number masked
    assert f"{phone[:3]}****{phone[-4:]}" in body
