"""A shared-device journey past the sign-in page, in a real browser at the kiosk's 1080×1920 and at 375 px: the
second-factor page (number pad) and the step-up page are drawn in the kiosk frame (countdown, finish, large
targets); finish, or the countdown running out, cancels the journey, ends its sign-in and clears the screen."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from urllib.parse import urlencode

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from idp.oauth.acr import LOA3
from idp.oauth.clients import create_client
from idp.oauth.totp import confirm_enrolment, pending, start_enrolment
from idp.proofing import binding
from idp.records import people
from idp.runtime import open_runtime
from tests.browser.conftest import LiveServer, assert_no_sideways_scroll, fresh_phone

RP_PATH = "/?from=rp"  # the relying party's callback: a page of our own server, for the browser to land on
SCREENS = {"kiosk": {"width": 1080, "height": 1920}, "phone": {"width": 375, "height": 812}}
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_sequence = count(401)


def _id_number() -> str:
    """A valid resident ID number no other test here used (GB 11643 check character)."""
    body = f"11010519800101{next(_sequence):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def _citizen_and_kiosk(server: LiveServer, phone: str) -> tuple[pyotp.TOTP, str]:
    """A citizen with a proven real name and an authenticator, and a shared-device client asking for loa:3 (so
    the journey goes through the second factor and the step-up page): the authenticator and the client id."""
    rt = open_runtime(server.settings)
    try:
        with rt.transaction() as session:
            person = people.register_by_phone(session, rt.protector, "+86" + phone, channel="web")
            session.flush()
            binding.prove(session, rt.protector, person.id, id_number=_id_number(), name="张三", source="carrier",
                          channel="web", deny_until=0)  # fmt: skip
            start_enrolment(session, rt.protector, person.id)
            shown = pending(session, rt.protector, person.id, "Yiwang", "kiosk")
            assert shown is not None
            authenticator = pyotp.TOTP(shown.secret)
            assert isinstance(confirm_enrolment(session, rt.protector, person.id, authenticator.now(), 5), list)
            client_id = create_client(
                session, name="自助终端办事", redirect_uris=[server.url(RP_PATH)], auth_method="none", grant_types=["authorization_code"],
                scopes=["openid", "profile"], default_acr=LOA3, shared_device=True,
            ).client_id  # fmt: skip
    finally:
        rt.close()
    return authenticator, client_id


@pytest.fixture(params=list(SCREENS))
def screen(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[str, BrowserContext]]:
    context = browser.new_context(
        viewport=SCREENS[request.param],  # type: ignore[arg-type]
        device_scale_factor=1,
        has_touch=True,
        is_mobile=request.param == "phone",
        locale="zh-CN",
    )
    context.set_default_timeout(60_000)
    yield request.param, context
    context.close()


def _authorize(server: LiveServer, client_id: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": server.url(RP_PATH),
        "scope": "openid profile",
        "state": secrets.token_hex(8),
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return server.url("/authorize?" + urlencode(query))


def _type_on_pad(page: Page, field: str, digits: str) -> None:
    page.click(field)
    pad = page.locator(".kiosk-pad")
    for digit in digits:
        pad.locator(f"button[data-key='{digit}']").click()
    assert page.input_value(field) == digits


def _check_frame(page: Page, width: str) -> None:
    """The kiosk frame is on the page, at the size of a touch screen, and nothing scrolls sideways."""
    assert page.evaluate("() => document.body.classList.contains('kiosk')")
    assert re.search(r"\d+", page.inner_text("#kiosk-idle"))
    finish = page.locator("button.kiosk-finish").bounding_box()
    assert finish is not None and finish["height"] >= (96 if width == "kiosk" else 56)
    assert_no_sideways_scroll(page)


def _to_totp(page: Page, server: LiveServer, client_id: str, phone: str) -> None:
    page.goto(_authorize(server, client_id))
    page.wait_for_url(re.compile(r"/login\?flow="))
    _type_on_pad(page, "input[name=phone]", phone)
    page.click("button.send")
    page.wait_for_selector("input[name=code]")
    _type_on_pad(page, "input[name=code]", server.sms_code(phone))
    page.check("#agree")
    page.click("button[name=decision][value=approve]")
    page.wait_for_url(re.compile(r"/login/totp\?flow="))


def _session_cookies(context: BrowserContext) -> list[dict[str, object]]:
    return [dict(c) for c in context.cookies() if c["name"] == "yw_session"]


def test_finish_on_the_step_up_page_clears_the_screen(
    screen: tuple[str, BrowserContext], live_server: LiveServer, shot: Callable[[Page, str], Path]
) -> None:
    width, context = screen
    phone = fresh_phone()
    authenticator, client_id = _citizen_and_kiosk(live_server, phone)
    page = context.new_page()
    _to_totp(page, live_server, client_id, phone)

    # The second factor: the kiosk frame and the number pad (the six digits typed on it).
    _check_frame(page, width)
    assert page.locator(".kiosk-pad").count() == 1
    key = page.locator(".kiosk-pad button[data-key='5']").bounding_box()
    assert key is not None and key["height"] >= (96 if width == "kiosk" else 56)
    shot(page, f"{width}-totp")
    _type_on_pad(page, "input[name=code]", authenticator.at(time.time() + 30))
    page.click("form[action='/login/totp'] button[type=submit]")
    page.wait_for_url(re.compile(r"/stepup\?flow="))

    # Signed in, the level not yet reached: the step-up page, in the frame; the cookie dies with the browser.
    _check_frame(page, width)
    assert page.locator("a[href^='/stepup/counter']").count() == 1
    for choice in page.locator("details > summary").all():  # the method choices open on a touch
        box = choice.bounding_box()
        assert box is not None and box["height"] >= (96 if width == "kiosk" else 56)
    cookies = _session_cookies(context)
    assert len(cookies) == 1 and cookies[0]["expires"] == -1  # a session cookie: no Max-Age, no Expires
    shot(page, f"{width}-stepup")
    page.click("button.kiosk-finish")
    page.wait_for_url(re.compile(r"/\?from=rp&.*error=access_denied"))
    assert _session_cookies(context) == []
    assert phone not in page.content() and "kiosk-finish" not in page.content()
    shot(page, f"{width}-finished")

    # Back: the journey is gone, and so is what was on the page (never stored, shown again from the server).
    page.go_back()
    page.wait_for_load_state()
    assert page.locator("a[href^='/stepup/counter']").count() == 0


def test_the_countdown_running_out_on_the_second_factor_page_clears_the_screen(
    screen: tuple[str, BrowserContext], live_server: LiveServer
) -> None:
    width, context = screen
    phone = fresh_phone()
    _, client_id = _citizen_and_kiosk(live_server, phone)
    page = context.new_page()
    page.clock.install()
    _to_totp(page, live_server, client_id, phone)
    _check_frame(page, width)
    assert "90" in page.inner_text("#kiosk-idle")
    page.fill("input[name=code]", "12")  # half typed, then the person walks away
    page.clock.run_for(60_000)
    assert re.search(r"\b(2[89]|30)\b", page.inner_text("#kiosk-idle"))  # the countdown is shown
    assert page.url.startswith(live_server.url("/login/totp"))
    page.clock.run_for(31_000)
    page.wait_for_url(re.compile(r"/\?from=rp&.*error=access_denied"))
    assert _session_cookies(context) == []
    assert page.locator("input[name=code]").count() == 0
