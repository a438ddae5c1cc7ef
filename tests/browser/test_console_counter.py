"""The staff console and the counter in a real browser, at phone and desktop width: a staff member signs in
through Yiwang with the SMS code and their authenticator (TOTP computed from the enrolled secret), records an
in-person check for a citizen waiting at the loa:3 step-up, and the citizen's own browser then continues to
the relying party."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp
from playwright.sync_api import Browser, Page, Route

from idp.oauth.acr import LOA3
from idp.oauth.clients import create_client
from idp.oauth.totp import confirm_enrolment, pending, start_enrolment
from idp.proofing import binding
from idp.records import people
from idp.runtime import Runtime, open_runtime
from idp.staff import roles
from tests.browser.conftest import LiveServer, assert_no_sideways_scroll, fresh_phone, new_context

RP = "https://rp.example/cb"
_sequence = count(101)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_number() -> str:
    """A valid resident ID number no other test here used (GB 11643 check character); the browser tests share one
    server, so this file's birth date is its own."""
    body = f"11010519850202{next(_sequence):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def _runtime(server: LiveServer) -> Iterator[Runtime]:
    rt = open_runtime(server.settings)
    try:
        yield rt
    finally:
        rt.close()


def _person(rt: Runtime, phone: str, id_number: str, name: str) -> str:
    with rt.transaction() as session:
        person = people.register_by_phone(session, rt.protector, "+86" + phone, channel="web")
        session.flush()
        binding.prove(session, rt.protector, person.id, id_number=id_number, name=name, source="carrier",
                      channel="web", deny_until=0)  # fmt: skip
        return person.id


def _staff(rt: Runtime, phone: str, id_number: str) -> str:
    """A counter staff member (their number proven, a role granted to it) with an authenticator: the secret."""
    person_id = _person(rt, phone, id_number, "刘洋")
    with rt.transaction() as session:
        start_enrolment(session, rt.protector, person_id)
        shown = pending(session, rt.protector, person_id, "Yiwang", "staff")
        assert shown is not None
        assert isinstance(confirm_enrolment(session, rt.protector, person_id, pyotp.TOTP(shown.secret).now(), 5), list)
        roles.grant(session, rt.protector, id_number=id_number, role="counter", hall="city", halls={"city", "east"},
                    actor="test", channel="cli")  # fmt: skip
    return shown.secret


def _rp(rt: Runtime) -> str:
    with rt.transaction() as session:
        return create_client(session, name="测试部门", redirect_uris=[RP], auth_method="none",
                             grant_types=["authorization_code"], scopes=["openid", "profile"]).client_id  # fmt: skip


def _sms_and_agree(page: Page, server: LiveServer, phone: str) -> None:
    page.fill("input[name=phone]", phone)
    page.click("button.send")
    page.wait_for_url(re.compile(r"/login/sms"))
    page.fill("input[name=code]", server.sms_code(phone))
    page.check("#agree")
    page.click("button[name=decision][value=approve]")


def test_a_counter_check_in_the_console_lets_the_waiting_citizen_continue(
    browser: Browser, live_server: LiveServer, shot: Callable[[Page, str], Path]
) -> None:
    for width in ("phone", "desktop"):
        _walk(browser, live_server, shot, width)


def _walk(browser: Browser, server: LiveServer, shot: Callable[[Page, str], Path], width: str) -> None:
    staff_phone, citizen_phone = fresh_phone(), fresh_phone()
    staff_number, citizen_number = _id_number(), _id_number()
    for rt in _runtime(server):
        secret = _staff(rt, staff_phone, staff_number)
        _person(rt, citizen_phone, citizen_number, "赵磊")
        client_id = _rp(rt)

    # The citizen, on their own phone, at a department's site that asks for a real person (loa:3).
    citizen_ctx = new_context(browser, "phone")
    citizen_ctx.route("https://rp.example/**", lambda route: _rp_page(route))
    citizen = citizen_ctx.new_page()
    citizen.set_default_timeout(15_000)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": RP, "scope": "openid",
             "state": "s-" + width, "nonce": "n", "code_challenge": challenge, "code_challenge_method": "S256",
             "acr_values": LOA3}  # fmt: skip
    citizen.goto(server.url(f"/authorize?{urlencode(query)}"))
    _sms_and_agree(citizen, server, citizen_phone)
    citizen.wait_for_url(re.compile(r"/stepup\?flow="))
    citizen.click("a[href^='/stepup/counter']")
    citizen.click("form[action='/stepup/counter'] button:not([formaction])")
    code = citizen.get_attribute(".counter-code", "aria-label")
    assert code is not None and re.fullmatch(r"\d{8}", code.replace(" ", ""))

    # Staff at the counter sign in to the console: Yiwang's own sign-in, the SMS code, then the authenticator.
    staff_ctx = new_context(browser, width)
    staff = staff_ctx.new_page()
    staff.set_default_timeout(15_000)
    staff.goto(server.url("/console"))
    assert_no_sideways_scroll(staff)
    shot(staff, f"{width}-signin")
    staff.click("form[action='/console/signin'] button")
    staff.wait_for_url(re.compile(r"/login\?flow="))
    _sms_and_agree(staff, server, staff_phone)
    staff.wait_for_url(re.compile(r"/login/totp"))
    staff.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))  # the enrolment spent the current one
    staff.click("form[action='/login/totp'] button[type=submit]")
    staff.wait_for_url(re.compile(r"/console$"))
    assert "刘*" in staff.inner_text("header") and "窗口核验员" in staff.inner_text("header")
    assert_no_sideways_scroll(staff)
    shot(staff, f"{width}-home")

    staff.click("nav a[href='/console/counter']")
    staff.fill("#code", code.replace(" ", ""))
    staff.fill("#name", "赵磊")
    staff.fill("#id_number", citizen_number)
    assert_no_sideways_scroll(staff)
    shot(staff, f"{width}-counter")
    staff.click("form[action='/console/counter/lookup'] button")
    staff.wait_for_selector("form[action='/console/counter/check']")
    body = staff.inner_text("main")
    assert citizen_phone not in body and citizen_number not in body and citizen_phone[:3] + "****" in body
    assert_no_sideways_scroll(staff)
    shot(staff, f"{width}-lookup")
    staff.check("#confirm")
    staff.click("form[action='/console/counter/check'] button[type=submit]")
    staff.wait_for_selector("p.success")
    assert_no_sideways_scroll(staff)
    shot(staff, f"{width}-recorded")

    # Back on the citizen's phone: continue, and the sign-in goes on to the department at loa:3.
    citizen.click("button[formaction='/stepup/counter/continue']")
    citizen.wait_for_url(re.compile(r"^(https://rp\.example/cb|.*/consent)"))
    if "/consent" in citizen.url:
        citizen.click("form[action='/consent'] button[value=approve]")
        citizen.wait_for_url(re.compile(r"^https://rp\.example/cb"))
    params = parse_qs(urlsplit(citizen.url).query)
    assert params["state"] == ["s-" + width] and params["code"]
    shot(citizen, f"{width}-citizen-at-rp")
    staff.click("form.signout button")
    staff.wait_for_selector("form[action='/console/signin']")
    citizen_ctx.close()
    staff_ctx.close()


def _rp_page(route: Route) -> None:
    route.fulfill(status=200, content_type="text/html; charset=utf-8", body="<h1>部门网站 RP</h1>")
