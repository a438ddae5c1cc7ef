"""Every page a person meets, checked in Chromium with axe-core (WCAG 2.x A/AA) at phone and desktop width:
no serious or critical finding, and no sideways scroll.

PAGES is the table to extend: a name and either a path or a function that drives the browser to the page
(signing in, filling a step) and leaves it there. One server and one browser serve the module; each width has
one citizen context (signed in), one staff context (a console session) and one anonymous context, reused.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from idp.oauth import clients, sessions
from idp.oauth.acr import LOA3
from idp.oauth.totp import confirm_enrolment, pending, start_enrolment
from idp.proofing import binding
from idp.records import people
from idp.runtime import Runtime, open_runtime
from idp.staff import console_sessions, roles
from tests.browser import a11y
from tests.browser.conftest import WIDTHS, LiveServer, fresh_phone, new_context

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_sequence = itertools.count(101)
SIZES = {**WIDTHS, "kiosk": {"width": 1080, "height": 1920}}  # the kiosk: a portrait touch screen
PHONE_AND_DESKTOP = ("phone", "desktop")
WITH_KIOSK = ("phone", "desktop", "kiosk")


def _id_number() -> str:
    """A valid resident ID number (GB 11643 check character) with this file's own birth date."""
    body = f"11010519770707{next(_sequence):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


@dataclass
class Visit:
    """What a page's function gets: the three contexts of one width, and the server."""

    server: LiveServer
    runtime: Runtime
    citizen: BrowserContext
    staff: BrowserContext
    anonymous: BrowserContext
    client_id: str
    citizen_id: str

    def open(self, context: BrowserContext, path: str, status: int = 200) -> Page:
        page = context.new_page()
        page.set_default_timeout(15_000)
        response = page.goto(self.server.url(path))
        assert response is not None and response.status == status, (path, response and response.status)
        return page


def _authorize(v: Visit, **extra: str) -> Page:
    """The citizen's browser sent to /authorize by the test relying party."""
    challenge = base64.urlsafe_b64encode(hashlib.sha256(secrets.token_bytes(32)).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": v.client_id, "redirect_uri": "https://rp.example/cb",
             "scope": "openid profile", "state": "s", "nonce": "n", "code_challenge": challenge,
             "code_challenge_method": "S256", **extra}  # fmt: skip
    return v.open(v.citizen, "/authorize?" + urlencode(query))


def sign_in(v: Visit) -> Page:
    page = v.open(v.anonymous, "/demo")
    page.click("form[action='/demo/login'] button")
    page.wait_for_url(re.compile(r"/login\?flow="))
    return page


def sms_code_sent(v: Visit) -> Page:
    page = sign_in(v)
    page.fill("#phone", fresh_phone())
    page.click("button.send")
    page.wait_for_url(re.compile(r"/login/sms"))
    return page


def sms_errors(v: Visit) -> Page:
    page = sms_code_sent(v)
    page.fill("#code", "000000")
    page.click("button[name=decision][value=approve]")  # wrong code, agreement not ticked
    page.wait_for_selector(".field-error")
    return page


def totp_step(v: Visit) -> Page:
    """A staff member's sign-in to the console, at the authenticator step."""
    phone = fresh_phone()
    _staff_person(v.runtime, phone)
    page = v.open(v.anonymous, "/console")
    page.click("form[action='/console/signin'] button")
    page.wait_for_url(re.compile(r"/login\?flow="))
    page.fill("input[name=phone]", phone)
    page.click("button.send")
    page.wait_for_url(re.compile(r"/login/sms"))
    page.fill("input[name=code]", v.server.sms_code(phone))
    page.check("#agree")
    page.click("button[name=decision][value=approve]")
    page.wait_for_url(re.compile(r"/login/totp"))
    return page


def consent(v: Visit) -> Page:
    page = _authorize(v)
    page.wait_for_url(re.compile(r"/consent"))
    return page


def step_up(v: Visit) -> Page:
    page = _authorize(v, acr_values=LOA3)
    page.wait_for_url(re.compile(r"/stepup\?flow="))
    return page


def step_up_counter(v: Visit) -> Page:
    page = step_up(v)
    page.click("a[href^='/stepup/counter']")
    page.click("form[action='/stepup/counter'] button:not([formaction])")
    page.wait_for_selector(".counter-code")
    return page


def step_up_face_consent(v: Visit) -> Page:
    page = step_up(v)
    page.click("a[href^='/stepup/face']")
    page.wait_for_url(re.compile(r"/stepup/face"))
    return page


def console_person(v: Visit) -> Page:
    return v.open(v.staff, f"/console/persons/{v.citizen_id}")


def ciba(v: Visit) -> Page:
    """The approval page a citizen opens from the SMS a hotline agent's CIBA request sent them."""
    phone = fresh_phone()
    with v.runtime.transaction() as session:
        people.add(session, v.runtime.protector, id_number=_id_number(), name="王五", phone=phone)
        made = clients.create_client(session, name="12345 市民热线", grant_types=[clients.CIBA_GRANT],
                                     scopes=["openid"], backchannel_token_delivery_mode="poll")  # fmt: skip
    assert made.client_secret
    answer = httpx.post(v.server.url("/bc-authorize"), data={"scope": "openid", "login_hint": phone,
                        "binding_message": "工单 4711"}, auth=(made.client_id, made.client_secret), timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    outbox = httpx.get(v.server.url("/sandbox/sms/outbox"), params={"phone": phone}, timeout=10).json()
    link = next(m.group(0) for msg in outbox["messages"] if (m := re.search(r"/ciba/[A-Za-z0-9_-]+", msg["text"])))
    return v.open(v.anonymous, link)


def totp_enrol(v: Visit) -> Page:
    page = v.open(v.citizen, "/account/totp")
    page.click("form[action='/account/totp/start'] button")
    page.wait_for_selector(".qr svg")
    page.click("details summary")
    return page


def kiosk_scan(v: Visit) -> Page:
    page = v.open(v.anonymous, "/demo/kiosk")
    page.click("form[action='/demo/kiosk/device'] button")
    page.wait_for_selector(".qr svg, svg")
    return page


def _user_code(v: Visit) -> str:
    page = kiosk_scan(v)
    code = page.inner_text(".user-code") if page.locator(".user-code").count() else ""
    page.close()
    return re.sub(r"\s", "", code)


def device_confirm(v: Visit) -> Page:
    page = v.open(v.citizen, "/device?" + urlencode({"user_code": _user_code(v)}))
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/device/confirm"))
    return page


def device_done(v: Visit) -> Page:
    page = device_confirm(v)
    page.click("form button[value=approve]")
    page.wait_for_url(re.compile(r"/device/done"))
    return page


def anonymous(path: str, status: int = 200) -> Callable[[Visit], Page]:
    return lambda v: v.open(v.anonymous, path, status)


def citizen(path: str) -> Callable[[Visit], Page]:
    return lambda v: v.open(v.citizen, path)


def staff(path: str) -> Callable[[Visit], Page]:
    """An admin's (and counter's) console session: every console page is open to them."""
    return lambda v: v.open(v.staff, path)


# (name, how to reach the page, the window sizes to check it at). Each page is reached once, then checked at
# every size by resizing the window.
PAGES: list[tuple[str, Callable[[Visit], Page], tuple[str, ...]]] = [
    ("home", anonymous("/"), PHONE_AND_DESKTOP),
    ("home signed in", citizen("/"), PHONE_AND_DESKTOP),
    ("terms", anonymous("/terms"), PHONE_AND_DESKTOP),
    ("demo", anonymous("/demo"), PHONE_AND_DESKTOP),
    ("sign-in", sign_in, PHONE_AND_DESKTOP),
    ("sign-in code sent", sms_code_sent, PHONE_AND_DESKTOP),
    ("sign-in errors", sms_errors, PHONE_AND_DESKTOP),
    ("sign-in authenticator", totp_step, PHONE_AND_DESKTOP),
    ("consent", consent, PHONE_AND_DESKTOP),
    ("step-up", step_up, PHONE_AND_DESKTOP),
    ("step-up counter", step_up_counter, PHONE_AND_DESKTOP),
    ("step-up face consent", step_up_face_consent, PHONE_AND_DESKTOP),
    ("ciba approval", ciba, PHONE_AND_DESKTOP),
    ("account", citizen("/account"), PHONE_AND_DESKTOP),
    ("account signed out", anonymous("/account"), PHONE_AND_DESKTOP),
    ("account sessions", citizen("/account/sessions"), PHONE_AND_DESKTOP),
    ("account history", citizen("/account/history"), PHONE_AND_DESKTOP),
    ("account signatures", citizen("/account/signatures"), PHONE_AND_DESKTOP),
    ("account data", citizen("/account/data"), PHONE_AND_DESKTOP),
    ("account close", citizen("/account/close"), PHONE_AND_DESKTOP),
    ("account passkeys", citizen("/account/passkeys"), PHONE_AND_DESKTOP),
    ("account consents", citizen("/account/consents"), PHONE_AND_DESKTOP),
    ("account face", citizen("/account/face"), PHONE_AND_DESKTOP),
    ("account authenticator", citizen("/account/totp"), PHONE_AND_DESKTOP),
    ("account authenticator enrol", totp_enrol, PHONE_AND_DESKTOP),
    ("account signed out (401)", anonymous("/account/consents", 401), PHONE_AND_DESKTOP),
    ("device entry", citizen("/device"), PHONE_AND_DESKTOP),
    ("device confirm", device_confirm, PHONE_AND_DESKTOP),
    ("device done", device_done, PHONE_AND_DESKTOP),
    ("kiosk", anonymous("/demo/kiosk"), WITH_KIOSK),
    ("kiosk scan", kiosk_scan, WITH_KIOSK),
    ("console sign-in", anonymous("/console"), PHONE_AND_DESKTOP),
    ("console home", staff("/console"), PHONE_AND_DESKTOP),
    ("console counter", staff("/console/counter"), PHONE_AND_DESKTOP),
    ("console persons", staff("/console/persons"), PHONE_AND_DESKTOP),
    ("console person", console_person, PHONE_AND_DESKTOP),
    ("console staff", staff("/console/staff"), PHONE_AND_DESKTOP),
    ("console docs", staff("/docs"), PHONE_AND_DESKTOP),
    ("console clients", staff("/console/clients"), PHONE_AND_DESKTOP),
    ("console new client", staff("/console/clients/new"), PHONE_AND_DESKTOP),
    ("console organisations", staff("/console/orgs"), PHONE_AND_DESKTOP),
    ("console seals", staff("/console/seals"), PHONE_AND_DESKTOP),
    ("console signatures", staff("/console/signatures"), PHONE_AND_DESKTOP),
    ("console audit", staff("/console/audit"), PHONE_AND_DESKTOP),
    ("console health", staff("/console/health"), PHONE_AND_DESKTOP),
    ("console dashboard", staff("/console/dashboard"), PHONE_AND_DESKTOP),
    ("not found (404)", anonymous("/no-such-page", 404), PHONE_AND_DESKTOP),
    ("logout", citizen("/logout"), PHONE_AND_DESKTOP),
]


def _staff_person(rt: Runtime, phone: str, role: str | None = "admin") -> str:
    """A person with a proven name and, unless role is None, an authenticator and that staff role: their id."""
    number = _id_number()
    with rt.transaction() as session:
        person = people.register_by_phone(session, rt.protector, "+86" + phone, channel="web")
        session.flush()
        binding.prove(session, rt.protector, person.id, id_number=number, name="刘洋", source="carrier",
                      channel="web", deny_until=0)  # fmt: skip
        if role is None:
            return person.id
        start_enrolment(session, rt.protector, person.id)
        shown = pending(session, rt.protector, person.id, "Yiwang", "staff")
        assert shown is not None
        confirm_enrolment(session, rt.protector, person.id, pyotp.TOTP(shown.secret).now(), 5)
        for each in (role, "counter") if role == "admin" else (role,):  # the counter tool is the counter role's
            roles.grant(session, rt.protector, id_number=number, role=each, hall=None, halls=set(),
                        actor="test", channel="cli")  # fmt: skip
        return person.id


@pytest.fixture(scope="module")
def runtime(live_server: LiveServer) -> Iterator[Runtime]:
    rt = open_runtime(live_server.settings)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def visit(browser: Browser, live_server: LiveServer, runtime: Runtime) -> Iterator[Visit]:
    a11y.axe_or_skip()
    with runtime.transaction() as session:
        client_id = clients.create_client(session, name="无障碍测试部门", redirect_uris=["https://rp.example/cb"],
                                          auth_method="none", grant_types=["authorization_code"],
                                          scopes=["openid", "profile"]).client_id  # fmt: skip
    citizen_id = _staff_person(runtime, fresh_phone(), role=None)
    staff_id = _staff_person(runtime, fresh_phone())
    with runtime.transaction() as session:
        citizen_cookie, _ = sessions.create(session, citizen_id, "urn:yiwang:loa:2", ["sms"], 3600)
        _, row = sessions.create(session, staff_id, "urn:yiwang:loa:2", ["sms", "otp"], 3600)
        staff_value, _ = console_sessions.create(session, staff_id, row.sid, 3600)
    # Phone contexts (touch, mobile viewport); the desktop and kiosk checks resize the same window.
    contexts = [new_context(browser, "phone") for _ in range(3)]
    for context in contexts:
        context.route("https://rp.example/**", lambda route: route.fulfill(status=200, body="<h1>RP</h1>"))
    citizen_ctx, staff_ctx, anonymous_ctx = contexts
    citizen_ctx.add_cookies([{"name": sessions.COOKIE, "value": citizen_cookie, "url": live_server.base}])
    staff_ctx.add_cookies([{"name": console_sessions.cookie_name(False),
                            "value": console_sessions.stamp(runtime.protector, staff_value),
                            "url": live_server.base}])  # fmt: skip
    yield Visit(live_server, runtime, citizen_ctx, staff_ctx, anonymous_ctx, client_id, citizen_id)
    for context in contexts:
        context.close()


@pytest.mark.parametrize(("name", "reach", "sizes"), PAGES, ids=[name for name, _, _ in PAGES])
def test_page_is_accessible(name: str, reach: Callable[[Visit], Page], sizes: tuple[str, ...], visit: Visit) -> None:
    page = reach(visit)
    try:
        page.wait_for_load_state()
        for size in sizes:
            page.set_viewport_size(SIZES[size])  # type: ignore[arg-type]
            findings = a11y.check(page)
            assert not findings, f"{name} at {size}: " + "; ".join(map(str, findings))
            assert a11y.no_sideways_scroll(page), f"{name} scrolls sideways at {size} ({page.url})"
    finally:
        page.close()


def test_the_check_sees_what_it_should(visit: Visit) -> None:
    """The kit itself: a nameless button, an unlabelled field and a too-wide block are caught."""
    page = visit.anonymous.new_page()
    try:
        page.set_viewport_size(SIZES["phone"])  # type: ignore[arg-type]
        page.set_content(
            '<html lang="zh-CN"><title>t</title><main><button></button><input>'
            '<div style="width:600px">宽</div></main></html>'
        )
        assert {f.rule for f in a11y.check(page)} >= {"button-name", "label"}
        assert not a11y.no_sideways_scroll(page)
    finally:
        page.close()
