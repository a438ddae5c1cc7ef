"""The relying-party console page in a real browser at phone and desktop width: an admin signs in through
Yiwang (SMS code, then the authenticator), registers a department's app and sees its secret once; the app's
own page then shows the registration but never the secret."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path

import pyotp
from playwright.sync_api import Browser, Page

from idp.oauth import clients
from idp.oauth.models import OAuthClient
from idp.oauth.totp import confirm_enrolment, pending, start_enrolment
from idp.proofing import binding
from idp.records import people
from idp.runtime import open_runtime
from idp.staff import roles
from tests.browser.conftest import (
    LiveServer,
    assert_no_sideways_scroll,
    fresh_phone,
    new_context,
    resident_id,
    sms_sign_in,
)

_sequence = count(301)


def _id_number() -> str:
    return resident_id(f"11010519860404{next(_sequence):03d}")  # this file's own birth date


def _admin(server: LiveServer, phone: str) -> str:
    """An admin (number proven by the carrier check, role granted to it) with an authenticator: its secret."""
    id_number = _id_number()
    rt = open_runtime(server.settings)
    try:
        with rt.transaction() as session:
            person = people.register_by_phone(session, rt.protector, "+86" + phone, channel="web")
            session.flush()
            binding.prove(session, rt.protector, person.id, id_number=id_number, name="王芳", source="carrier",
                          channel="web", deny_until=0)  # fmt: skip
            start_enrolment(session, rt.protector, person.id)
            shown = pending(session, rt.protector, person.id, "Yiwang", "staff")
            assert shown is not None
            assert isinstance(confirm_enrolment(session, rt.protector, person.id, pyotp.TOTP(shown.secret).now(), 5),
                              list)  # fmt: skip
            roles.grant(session, rt.protector, id_number=id_number, role="admin", hall=None, halls=set(),
                        actor="test", channel="cli")  # fmt: skip
        return shown.secret
    finally:
        rt.close()


def _stored(server: LiveServer, client_id: str) -> OAuthClient | None:
    rt = open_runtime(server.settings)
    try:
        with rt.reading() as session:
            return session.get(OAuthClient, client_id)
    finally:
        rt.close()


def test_an_admin_registers_a_client_in_the_console(
    browser: Browser, live_server: LiveServer, shot: Callable[[Page, str], Path]
) -> None:
    for width in ("phone", "desktop"):
        _register(browser, live_server, shot, width)


def _register(browser: Browser, server: LiveServer, shot: Callable[[Page, str], Path], width: str) -> None:
    phone = fresh_phone()
    secret = _admin(server, phone)
    context = new_context(browser, width)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(server.url("/console"))
    page.click("form[action='/console/signin'] button")
    sms_sign_in(page, server, phone)
    page.wait_for_url(re.compile(r"/login/totp"))
    page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))  # the enrolment spent the current one
    page.click("form[action='/login/totp'] button[type=submit]")
    page.wait_for_url(re.compile(r"/console$"))

    page.click("nav a[href='/console/clients']")
    page.wait_for_url(re.compile(r"/console/clients$"))
    assert_no_sideways_scroll(page)
    shot(page, f"{width}-clients")
    page.click("a[href='/console/clients/new']")
    name = f"市住房公积金中心（{width}）"
    page.fill("#name", name)
    page.fill("#redirect_uris", "https://gjj.example.gov.cn/oidc/callback\nhttps://gjj.example.gov.cn/app/cb")
    page.check("input[name=scopes][value=real_name]")
    page.select_option("#default_acr", "urn:yiwang:loa:2")
    assert_no_sideways_scroll(page)
    shot(page, f"{width}-new")
    page.click("form[action='/console/clients/new'] button[type=submit]")
    page.wait_for_selector("code.secret")
    assert_no_sideways_scroll(page)
    shot(page, f"{width}-secret")
    client_id = page.inner_text("code.client-id")
    shown = page.inner_text("code.secret")
    row = _stored(server, client_id)
    assert row is not None and row.name == name and row.secret_hash == clients.hash_secret(shown)
    assert row.default_acr == "urn:yiwang:loa:2" and "real_name" in row.scopes

    page.click(f"a[href='/console/clients/{client_id}']")
    page.wait_for_url(re.compile(re.escape(f"/console/clients/{client_id}") + "$"))
    assert shown not in page.content() and "https://gjj.example.gov.cn/oidc/callback" in page.content()
    assert_no_sideways_scroll(page)
    shot(page, f"{width}-client")
    page.click("form.signout button")
    page.wait_for_selector("form[action='/console/signin']")
    context.close()
