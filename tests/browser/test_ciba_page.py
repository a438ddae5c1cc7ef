"""The CIBA approval page in Chromium, as the citizen sees it on their phone: the SMS link, the agent's department
and binding message, the sign-in through the engine, approve; the agent's app then gets its tokens."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page

from idp.oauth.clients import CIBA_GRANT, create_client
from idp.runtime import open_runtime
from tests.browser.conftest import LiveServer, assert_no_sideways_scroll, fresh_phone, sign_in_through_demo

LINK = re.compile(r"/ciba/[A-Za-z0-9_-]{20,64}")


def _ciba_client(server: LiveServer) -> tuple[str, str]:
    rt = open_runtime(server.settings)
    try:
        with rt.transaction() as session:
            made = create_client(
                session,
                name="12345 市民热线",
                grant_types=[CIBA_GRANT],
                scopes=["openid", "profile"],
                backchannel_token_delivery_mode="poll",
            )
    finally:
        rt.close()
    assert made.client_secret
    return made.client_id, made.client_secret


def test_approve_on_the_phone(page: Page, live_server: LiveServer, shot: Callable[[Page, str], Path]) -> None:
    phone = fresh_phone()
    sign_in_through_demo(page, live_server, phone)  # the citizen registered earlier
    page.context.clear_cookies()
    client_id, secret = _ciba_client(live_server)
    ack = httpx.post(
        live_server.url("/bc-authorize"),
        data={"scope": "openid profile", "login_hint": phone, "binding_message": "工单 4711"},
        auth=(client_id, secret),
        timeout=30,
    ).json()
    messages = httpx.get(live_server.url("/sandbox/sms/outbox"), params={"phone": phone}, timeout=10).json()
    link = next(m.group(0) for msg in messages["messages"] if (m := LINK.search(msg["text"])))

    page.goto(live_server.url(link))
    assert page.inner_text("#binding-message") == "工单 4711"
    assert "12345 市民热线" in page.inner_text("main")
    assert_no_sideways_scroll(page)
    shot(page, "request")
    page.click("form[action$='/sign-in'] button")
    page.wait_for_url(re.compile(r"/login\?flow="))
    page.fill("input[name=phone]", phone)
    page.click("button.send")
    page.wait_for_url(re.compile(r"/login/sms"))
    page.fill("input[name=code]", live_server.sms_code(phone))
    page.check("#agree")
    page.click("button[name=decision][value=approve]")
    page.wait_for_url(re.compile(r"/ciba/"))
    assert page.inner_text("#binding-message") == "工单 4711"
    assert_no_sideways_scroll(page)
    shot(page, "decide")
    page.click("button[name=decision][value=approve]")
    page.wait_for_selector("p.notice")
    assert_no_sideways_scroll(page)
    shot(page, "approved")

    token = httpx.post(
        live_server.url("/token"),
        data={"grant_type": CIBA_GRANT, "auth_req_id": ack["auth_req_id"]},
        auth=(client_id, secret),
        timeout=30,
    )
    assert token.status_code == 200, token.text
