"""Seals in the console in a real browser, at phone and desktop width: a seal manager signs in through Yiwang
(SMS code, then the authenticator), previews the drawn seal, creates it and sees it listed with its daily cap;
a counter staff member has no seals link and is refused the page (403)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path

import pyotp
from playwright.sync_api import Browser, BrowserContext, Page

from idp.errors import Conflict
from idp.oauth.totp import confirm_enrolment, pending, start_enrolment
from idp.proofing import binding
from idp.records import organisations, people
from idp.runtime import Runtime, open_runtime
from idp.staff import roles
from tests.browser.conftest import LiveServer, assert_no_sideways_scroll, fresh_phone, new_context

USCC = "91110000600037341L"
ORG = "浦江市数据局"
_sequence = count(101)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_number() -> str:
    """A valid resident ID number with this file's own birth date (the browser tests share one server)."""
    body = f"11010519860303{next(_sequence):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def _staff(rt: Runtime, phone: str, role: str) -> str:
    """A staff member holding `role`, with an authenticator: returns its secret."""
    id_number = _id_number()
    with rt.transaction() as session:
        person = people.register_by_phone(session, rt.protector, "+86" + phone, channel="web")
        session.flush()
        binding.prove(session, rt.protector, person.id, id_number=id_number, name="周敏", source="carrier",
                      channel="web", deny_until=0)  # fmt: skip
        start_enrolment(session, rt.protector, person.id)
        shown = pending(session, rt.protector, person.id, "Yiwang", "staff")
        assert shown is not None
        assert isinstance(confirm_enrolment(session, rt.protector, person.id, pyotp.TOTP(shown.secret).now(), 5), list)
        roles.grant(session, rt.protector, id_number=id_number, role=role, hall="city" if role == "counter" else None,
                    halls={"city", "east"}, actor="test", channel="cli")  # fmt: skip
    return shown.secret


def _org(rt: Runtime) -> None:
    with contextlib.suppress(Conflict), rt.transaction() as session:
        organisations.add(session, rt.protector, rt.uscc_rules, uscc=USCC, name=ORG, kind="department")


def _sign_in(page: Page, server: LiveServer, phone: str, secret: str) -> None:
    page.goto(server.url("/console"))
    page.click("form[action='/console/signin'] button")
    page.wait_for_url(re.compile(r"/login\?flow="))
    page.fill("input[name=phone]", phone)
    page.click("button.send")
    page.wait_for_url(re.compile(r"/login/sms"))
    page.fill("input[name=code]", server.sms_code(phone))
    page.check("#agree")
    page.click("button[name=decision][value=approve]")
    page.wait_for_url(re.compile(r"/login/totp"))
    page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))  # the enrolment spent the current one
    page.click("form[action='/login/totp'] button[type=submit]")
    page.wait_for_url(re.compile(r"/console$"))


def _signed_in(
    browser: Browser, server: LiveServer, width: str, phone: str, secret: str
) -> tuple[BrowserContext, Page]:
    """A fresh browser profile at `width`, signed in to the console as the staff member with this phone."""
    context = new_context(browser, width)
    page = context.new_page()
    page.set_default_timeout(15_000)
    _sign_in(page, server, phone, secret)
    return context, page


def test_a_seal_manager_creates_a_seal_and_a_counter_cannot_see_seals(
    browser: Browser, live_server: LiveServer, shot: Callable[[Page, str], Path]
) -> None:
    rt = open_runtime(live_server.settings)
    try:
        _org(rt)
        people_ = {
            width: {role: (phone := fresh_phone(), _staff(rt, phone, role)) for role in ("seal_manager", "counter")}
            for width in ("phone", "desktop")
        }
    finally:
        rt.close()
    for width, staff in people_.items():
        _seal_manager(browser, live_server, shot, width, *staff["seal_manager"])
        _counter(browser, live_server, shot, width, *staff["counter"])


def _seal_manager(
    browser: Browser, server: LiveServer, shot: Callable[[Page, str], Path], width: str, phone: str, secret: str
) -> None:
    context, page = _signed_in(browser, server, width, phone, secret)
    page.click("nav a[href='/console/seals']")
    page.wait_for_url(re.compile(r"/console/seals$"))
    page.select_option("#uscc", USCC)
    page.select_option("#seal_type", "official" if width == "phone" else "finance")
    page.fill("#clients", "dept-portal")
    page.fill("#daily_cap", "20")
    page.click("button[formaction='/console/seals/preview']")
    page.wait_for_selector("figure.seal-preview img")
    assert page.input_value("#daily_cap") == "20"  # the form comes back as it was typed
    natural = page.evaluate("() => document.querySelector('figure.seal-preview img').naturalWidth")
    assert natural > 100  # a real image was drawn and decoded
    assert_no_sideways_scroll(page)
    shot(page, f"{width}-preview")
    page.click("form[action='/console/seals/create'] button:not([formaction])")
    page.wait_for_url(re.compile(r"/console/seals/[0-9a-f-]{36}\?created=1"))
    assert "印章已创建" in page.inner_text("main") and "0 / 20" in page.inner_text("main")
    assert page.evaluate("() => document.querySelector('img.seal-image').naturalWidth") > 100
    assert_no_sideways_scroll(page)
    shot(page, f"{width}-created")
    page.click("a.button[href='/console/seals']")
    assert_no_sideways_scroll(page)
    shot(page, f"{width}-list")
    context.close()


def _counter(
    browser: Browser, server: LiveServer, shot: Callable[[Page, str], Path], width: str, phone: str, secret: str
) -> None:
    context, page = _signed_in(browser, server, width, phone, secret)
    assert page.locator("a[href='/console/seals']").count() == 0
    response = page.goto(server.url("/console/seals"))
    assert response is not None and response.status == 403
    assert "无权操作" in page.inner_text("main")
    assert_no_sideways_scroll(page)
    shot(page, f"{width}-counter-refused")
    context.close()


def test_the_oversight_pages_fit_a_phone_and_a_desktop(
    browser: Browser, live_server: LiveServer, shot: Callable[[Page, str], Path]
) -> None:
    """An auditor's pages (dashboard, signatures log, audit trail with a verification, provider health)."""
    rt = open_runtime(live_server.settings)
    try:
        auditors = {width: (phone := fresh_phone(), _staff(rt, phone, "auditor")) for width in ("phone", "desktop")}
    finally:
        rt.close()
    for width, (phone, secret) in auditors.items():
        context, page = _signed_in(browser, live_server, width, phone, secret)
        assert page.locator("a[href='/console/seals']").count() == 0
        for path in ("/console/dashboard", "/console/signatures", "/console/audit", "/console/health"):
            page.click(f"nav a[href='{path}']")
            page.wait_for_url(re.compile(re.escape(path) + "$"))
            assert_no_sideways_scroll(page)
            shot(page, f"{width}-{path.rsplit('/', 1)[1]}")
        page.click("nav a[href='/console/audit']")
        page.click("form[action='/console/audit/verify'] button")
        page.wait_for_selector("main p[role=status], main p[role=alert]")
        assert_no_sideways_scroll(page)
        shot(page, f"{width}-verified")
        context.close()
