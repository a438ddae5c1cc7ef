"""The CIBA approval page in Chromium, as the citizen sees it on their phone: the SMS link, the agent's department
and binding message, the sign-in through the engine, approve; the agent's app then gets its tokens."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page

from idp.oauth.clients import CIBA_GRANT, create_client
from idp.records import people
from idp.runtime import open_runtime
from tests.browser.conftest import LiveServer, assert_no_sideways_scroll, fresh_phone

LINK = re.compile(r"/ciba/[A-Za-z0-9_-]{20,64}")


def _id_number(serial: int) -> str:
    """A valid resident ID number (GB 11643 check character)."""
    body = f"11010519900101{serial % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _citizen_and_client(server: LiveServer, phone: str) -> tuple[str, str]:
    """The citizen, enrolled earlier (no SMS of their own yet this minute), and the hotline's CIBA client."""
    rt = open_runtime(server.settings)
    try:
        with rt.transaction() as session:
            people.add(session, rt.protector, id_number=_id_number(int(phone[-3:])), name="王五", phone=phone)
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
    client_id, secret = _citizen_and_client(live_server, phone)
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
