"""Shared-device mode (kiosks): a sign-in lasts as long as its journey, the browser keeps no SSO cookie, and
whoever signed in on the screen before is never the person standing there now."""

from __future__ import annotations

import re

import pytest
from httpx import Response
from sqlalchemy import select

from idp.oauth import sessions
from idp.oauth.clients import NewClient
from idp.oauth.models import LoginSession
from idp.records import people
from tests.oauth.conftest import Bench, form_value


def test_no_sso_cookie_and_the_session_ends_with_the_journey(bench: Bench) -> None:
    rp = bench.register(shared_device=True)
    result = bench.code_flow(rp)
    assert "code" in result
    assert sessions.COOKIE not in bench.client.cookies
    with bench.rt.transaction() as session:
        assert all(row.ended_at is not None for row in session.scalars(select(LoginSession)))
    tokens = bench.exchange(result["code"], rp)
    assert tokens.status_code == 200, tokens.text
    again = bench.authorize(**bench.auth_params(rp))
    assert again.headers["location"].startswith("/login?flow=")


def test_an_earlier_sign_in_in_the_same_browser_is_not_used(bench: Bench) -> None:
    bench.tokens()  # someone signed in to an ordinary application in this browser
    assert sessions.COOKIE in bench.client.cookies
    kiosk = bench.register(shared_device=True)
    first = bench.authorize(**bench.auth_params(kiosk))
    assert first.headers["location"].startswith("/login?flow=")
    ordinary = bench.authorize(**bench.auth_params())
    assert ordinary.headers["location"].startswith("https://rp.example/cb?code=")  # the control: SSO works


def test_cancel_on_a_shared_screen_ends_its_sign_in(bench: Bench) -> None:
    kiosk = bench.register(shared_device=True, default_acr="urn:yiwang:loa:3")
    first = bench.authorize(**bench.auth_params(kiosk))
    signed = bench.sign_in(first.headers["location"])
    assert signed.headers["location"].startswith("/stepup?flow=")  # signed in, the level not yet reached
    assert sessions.COOKIE in bench.client.cookies
    flow = signed.headers["location"].split("flow=")[1]
    page = bench.client.get("/login", params={"flow": flow})
    form = {"flow": flow, "csrf": form_value(page.text, "csrf"), "decision": "cancel"}
    cancelled = bench.client.post("/login/code", data=form)
    assert "error=access_denied" in cancelled.headers["location"]
    assert sessions.COOKIE not in bench.client.cookies
    with bench.rt.transaction() as session:
        assert all(row.ended_at is not None for row in session.scalars(select(LoginSession)))


def test_client_registration_records_the_flag(bench: Bench) -> None:
    from idp.oauth import clients

    rp = bench.register(shared_device=True)
    with bench.rt.transaction() as session:
        assert clients.describe(clients.get_row(session, rp.client_id))["shared_device"] is True


def test_pages_on_a_shared_screen_are_never_stored_nor_autofilled(bench: Bench) -> None:
    kiosk = bench.register(shared_device=True)
    login = bench.client.get(bench.authorize(**bench.auth_params(kiosk)).headers["location"])
    assert login.headers["cache-control"] == "no-store"
    assert 'class="kiosk"' in login.text and 'data-idle="90"' in login.text
    assert 'id="kiosk-finish"' in login.text and 'value="cancel"' in login.text
    assert 'autocomplete="tel-national"' not in login.text and 'autocomplete="off"' in login.text
    ordinary = bench.client.get(bench.authorize(**bench.auth_params()).headers["location"])
    assert 'class="kiosk"' not in ordinary.text and "cache-control" not in ordinary.headers
    assert 'autocomplete="tel-national"' in ordinary.text


# --- every page of a shared-device journey -------------------------------------------------------------------
LOA3 = "urn:yiwang:loa:3"
FINISH_FORM = re.compile(r'<form id="kiosk-finish" method="post" action="([^"]+)">(.*?)</form>', re.S)


def _finish_of(html: str) -> tuple[str, dict[str, str]]:
    """The kiosk frame's finish form: where it posts and its hidden fields, as the page's script submits it."""
    found = FINISH_FORM.search(html)
    assert found, "no kiosk finish form on the page"
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', found.group(2)))
    return found.group(1), fields


def _is_kiosk(page: Response) -> bool:
    framed = 'class="kiosk"' in page.text and 'id="kiosk-idle"' in page.text and 'id="kiosk-finish"' in page.text
    assert framed == (page.headers.get("cache-control") == "no-store"), page.headers
    return framed


def _to_stepup(bench: Bench, rp: NewClient, phone: str) -> str:
    """A journey of `rp` asking for loa:3, signed in by SMS: the step-up page's address."""
    first = bench.authorize(**bench.auth_params(rp, acr_values=LOA3))
    signed = bench.sign_in(first.headers["location"], phone)
    assert signed.headers["location"].startswith("/stepup?flow="), signed.headers
    return str(signed.headers["location"])


def _proven(bench: Bench, phone: str, id_number: str) -> None:
    """A citizen whose real name is proven (level 2): the step-up page offers the face and counter ways."""
    with bench.rt.transaction() as session:
        person = people.add(session, bench.rt.protector, id_number=id_number, name="张三", phone=phone)
        person.proofing_level, person.id_proof = 2, 2


@pytest.mark.parametrize("shared", [True, False])
def test_the_step_up_pages_carry_the_kiosk_frame_only_for_a_shared_device(bench: Bench, shared: bool) -> None:
    phone = "1391234000" + ("1" if shared else "2")
    _proven(bench, phone, "11010519491231002X" if shared else "110105194912310046")
    rp = bench.register(shared_device=shared)
    stepup = _to_stepup(bench, rp, phone)
    flow = stepup.split("flow=")[1]
    page = bench.client.get(stepup)
    assert page.status_code == 200 and "/stepup/counter" in page.text
    assert _is_kiosk(page) is shared
    assert ('autocomplete="name"' in page.text) is not shared  # no autofill of a name on a shared screen
    for path in ["/stepup/counter", "/stepup/face"]:
        assert _is_kiosk(bench.client.get(path, params={"flow": flow})) is shared, path
    face_csrf = form_value(bench.client.get("/stepup/face", params={"flow": flow}).text, "csrf")
    agreed = bench.client.post("/stepup/face/consent", data={"flow": flow, "csrf": face_csrf, "agree": "yes"})
    camera = bench.client.get(agreed.headers["location"])
    assert 'action="/stepup/face/consent"' not in camera.text and _is_kiosk(camera) is shared
    terms = bench.client.get("/terms", params={"flow": flow})
    assert _is_kiosk(terms) is shared and (f'href="/login?flow={flow}"' in terms.text) is shared
    # An error page on the way (the second-factor page of a journey that is not at that step).
    error = bench.client.get("/login/totp", params={"flow": flow})
    assert error.status_code == 400 and _is_kiosk(error) is shared
    assert ('href="/"' in error.text) is not shared  # a shared screen leaves only by "finish"
    assert _is_kiosk(bench.client.get("/terms")) is False  # the terms on their own are no journey's page


def test_finish_on_the_step_up_page_cancels_the_journey_and_ends_its_sign_in(bench: Bench) -> None:
    rp = bench.register(shared_device=True)
    page = bench.client.get(_to_stepup(bench, rp, "13912340003"))
    assert sessions.COOKIE in bench.client.cookies
    action, fields = _finish_of(page.text)
    assert action == "/login/code" and fields["decision"] == "cancel"
    finished = bench.client.post(action, data=fields)
    assert finished.status_code == 302 and "error=access_denied" in finished.headers["location"]
    assert sessions.COOKIE not in bench.client.cookies
    with bench.rt.transaction() as session:
        assert all(row.ended_at is not None for row in session.scalars(select(LoginSession)))
    again = bench.client.get(page.url)  # the back button: the page is gone with its journey
    assert again.status_code == 400 and "/stepup/registry" not in again.text


def test_the_consent_page_carries_the_frame_and_declining_ends_the_sign_in(bench: Bench) -> None:
    rp = bench.register(shared_device=True)
    first = bench.authorize(**bench.auth_params(rp))
    signed = bench.sign_in(first.headers["location"], "13912340004", decision="")
    assert signed.headers["location"].startswith("/consent?flow="), signed.headers
    consent = bench.client.get(signed.headers["location"])
    assert consent.status_code == 200 and _is_kiosk(consent)
    assert sessions.COOKIE in bench.client.cookies
    declined = bench.client.post(
        "/consent",
        data={"flow": form_value(consent.text, "flow"), "csrf": form_value(consent.text, "csrf"), "decision": "deny"},
    )
    assert "error=access_denied" in declined.headers["location"]
    assert sessions.COOKIE not in bench.client.cookies
    with bench.rt.transaction() as session:
        assert all(row.ended_at is not None for row in session.scalars(select(LoginSession)))
    ordinary = bench.authorize(**bench.auth_params())
    assert ordinary.headers["location"].startswith("/login")
    ordinary_consent = bench.sign_in(ordinary.headers["location"], "13912340005", decision="")
    assert not _is_kiosk(bench.client.get(ordinary_consent.headers["location"]))


def _set_cookie_of(response: Response) -> str:
    found = [v for v in response.headers.get_list("set-cookie") if v.startswith(f"{sessions.COOKIE}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def test_a_shared_device_sign_in_sets_a_session_cookie_without_a_lifetime(bench: Bench) -> None:
    kiosk = bench.register(shared_device=True)
    first = bench.authorize(**bench.auth_params(kiosk, acr_values=LOA3))
    signed = bench.sign_in(first.headers["location"], "13912340006")
    assert signed.headers["location"].startswith("/stepup?flow=")  # the journey goes on with the cookie
    cookie = _set_cookie_of(signed).lower()
    assert "max-age" not in cookie and "expires" not in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie
    # The control: an ordinary sign-in's cookie lasts the configured lifetime.
    ordinary = bench.authorize(**bench.auth_params(prompt="login"))
    lasting = _set_cookie_of(bench.sign_in(ordinary.headers["location"], "13912340007")).lower()
    assert f"max-age={bench.rt.settings.session_ttl}" in lasting


def test_the_second_factor_page_carries_the_frame_and_its_sign_in_cookie_has_no_lifetime(bench: Bench) -> None:
    from tests.oauth.test_totp_enrolment import _enrol, _next_code

    bench.rt.settings.sms_per_phone_per_minute = 50  # one person signs in several times
    bench.code_flow()  # the person signs in on their own phone and enrols an authenticator
    authenticator, _ = _enrol(bench)
    ordinary = bench.authorize(**bench.auth_params(prompt="login"))
    to_totp = bench.sign_in(ordinary.headers["location"])
    assert not _is_kiosk(bench.client.get(to_totp.headers["location"]))
    bench.client.cookies.clear()  # later, at a kiosk
    kiosk = bench.register(shared_device=True)
    first = bench.authorize(**bench.auth_params(kiosk, acr_values=LOA3))
    after_sms = bench.sign_in(first.headers["location"])
    assert after_sms.headers["location"].startswith("/login/totp?flow=")
    page = bench.client.get(after_sms.headers["location"])
    assert _is_kiosk(page) and "data-pad" in page.text and 'autocomplete="one-time-code"' not in page.text
    flow, csrf = form_value(page.text, "flow"), form_value(page.text, "csrf")
    done = bench.client.post("/login/totp", data={"flow": flow, "csrf": csrf, "code": _next_code(authenticator)})
    assert done.headers["location"].startswith("/stepup?flow="), done.headers
    cookie = _set_cookie_of(done).lower()
    assert "max-age" not in cookie and "expires" not in cookie
    action, fields = _finish_of(bench.client.get(done.headers["location"]).text)
    assert "error=access_denied" in bench.client.post(action, data=fields).headers["location"]
    assert sessions.COOKIE not in bench.client.cookies


def test_finish_on_the_second_factor_page_cancels_the_journey(bench: Bench) -> None:
    from tests.oauth.test_totp_enrolment import _enrol

    bench.rt.settings.sms_per_phone_per_minute = 50
    bench.code_flow()
    _enrol(bench)
    bench.client.cookies.clear()
    kiosk = bench.register(shared_device=True)
    first = bench.authorize(**bench.auth_params(kiosk))
    page = bench.client.get(bench.sign_in(first.headers["location"]).headers["location"])
    action, fields = _finish_of(page.text)
    finished = bench.client.post(action, data=fields)
    assert "error=access_denied" in finished.headers["location"]
    retry = bench.client.post("/login/totp", data={"flow": fields["flow"], "csrf": fields["csrf"], "code": "123456"})
    assert retry.status_code == 400  # the journey is gone: no second factor can finish it any more
