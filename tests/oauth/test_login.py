"""SMS login: codes, attempts, lockout with backoff, rate limits, CSRF, session cookies, TOTP."""

from __future__ import annotations

import time

import pyotp
from sqlalchemy import select

from idp.oauth.models import TotpPending
from idp.records import people
from tests.oauth.conftest import PHONE, Bench, form_value


def _to_code_page(bench: Bench, phone: str = PHONE) -> tuple[str, str]:
    first = bench.authorize(**bench.auth_params())
    page = bench.client.get(first.headers["location"])
    flow = form_value(page.text, "flow")
    csrf = form_value(page.text, "csrf")
    sent = bench.client.post("/login/sms", data={"flow": flow, "csrf": csrf, "phone": phone})
    assert sent.status_code == 200 and 'name="code"' in sent.text  # phone and code on one page
    return flow, csrf


def _code(flow: str, csrf: str, code: str, phone: str = PHONE) -> dict[str, str]:
    """The sign-in form as a person submits it: phone, code, the agreement ticked, consent approved."""
    return {"flow": flow, "csrf": csrf, "phone": phone, "code": code, "agree": "yes", "decision": "approve"}


def test_first_login_registers_a_person_at_loa1(bench: Bench) -> None:
    result = bench.code_flow()
    assert "code" in result
    with bench.rt.transaction() as session:
        person = people.find_by_phone(session, bench.rt.protector, PHONE)
        assert person is not None and person.proofing_level == 1 and person.phone_verified


def test_code_page_shows_the_phone_masked(bench: Bench) -> None:
    flow, _ = _to_code_page(bench)
    page = bench.client.get(f"/login?flow={flow}")  # a reload of the one sign-in page
    assert "138****8000" in page.text and PHONE not in page.text


def test_five_wrong_codes_lock_the_phone_even_against_the_right_code(bench: Bench) -> None:
    flow, csrf = _to_code_page(bench)
    right = bench.outbox_code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    answers = [bench.client.post("/login/code", data=_code(flow, csrf, wrong)) for _ in range(5)]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 429]
    assert "还可尝试 4 次" in answers[0].text and "还可尝试 1 次" in answers[3].text
    # Locked: the time in Beijing time and as a duration, the number kept, and no code form.
    assert "北京时间" in answers[4].text and "分钟后" in answers[4].text or "秒后" in answers[4].text
    assert f'value="{PHONE}"' in answers[4].text and 'name="code"' not in answers[4].text
    locked = bench.client.post("/login/code", data=_code(flow, csrf, right))
    assert locked.status_code in (400, 429) and "yw_session" not in locked.headers.get("set-cookie", "")
    # A new code can't be requested for a locked phone either.
    page = bench.client.get(f"/login?flow={flow}")
    again = bench.client.post("/login/sms", data={"flow": flow, "csrf": form_value(page.text, "csrf"), "phone": PHONE})
    assert again.status_code == 429


def test_wrong_code_then_right_code_works(bench: Bench) -> None:
    flow, csrf = _to_code_page(bench)
    right = bench.outbox_code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert bench.client.post("/login/code", data=_code(flow, csrf, wrong)).status_code == 400
    ok = bench.client.post("/login/code", data=_code(flow, csrf, right))
    assert ok.status_code == 302 and "yw_session=" in ok.headers["set-cookie"]


def test_code_is_single_use(bench: Bench) -> None:
    flow, csrf = _to_code_page(bench)
    code = bench.outbox_code()
    assert bench.client.post("/login/code", data=_code(flow, csrf, code)).status_code == 302
    assert bench.client.post("/login/code", data=_code(flow, csrf, code)).status_code == 400


def test_sms_rate_limit_per_phone(bench: Bench) -> None:
    flow, _ = _to_code_page(bench)  # one SMS sent this minute
    page = bench.client.get(f"/login?flow={flow}")
    again = bench.client.post("/login/sms", data={"flow": flow, "csrf": form_value(page.text, "csrf"), "phone": PHONE})
    assert again.status_code == 429


def test_forms_without_the_right_csrf_token_are_refused(bench: Bench) -> None:
    first = bench.authorize(**bench.auth_params())
    page = bench.client.get(first.headers["location"])
    flow = form_value(page.text, "flow")
    for csrf in ("", "forged", form_value(page.text, "csrf") + "0"):
        response = bench.client.post("/login/sms", data={"flow": flow, "csrf": csrf, "phone": PHONE})
        assert response.status_code == 400
    assert bench.client.get("/sandbox/sms/outbox", params={"phone": PHONE}).json()["messages"] == []


def test_flow_is_bound_to_the_browser(bench: Bench) -> None:
    first = bench.authorize(**bench.auth_params())
    flow_url = first.headers["location"]
    bench.client.cookies.clear()  # another browser
    response = bench.client.get(flow_url)
    assert response.status_code == 400


def test_session_cookie_flags_and_a_new_session_at_every_login(bench: Bench) -> None:
    flow, csrf = _to_code_page(bench)
    ok = bench.client.post("/login/code", data=_code(flow, csrf, bench.outbox_code()))
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("samesite", "SameSite").replace("Lax", "lax")
    first_value = bench.client.cookies.get("yw_session")
    bench.follow(ok)
    second = bench.code_flow(prompt="login", phone="13900000001")
    assert "code" in second
    assert bench.client.cookies.get("yw_session") != first_value


def test_totp_second_factor(bench: Bench) -> None:
    bench.code_flow()  # signed in, session cookie set
    page = bench.client.get("/account/totp")
    assert page.status_code == 200
    started = bench.client.post("/account/totp/start", data={"csrf": form_value(page.text, "csrf")})
    assert started.status_code == 303
    with bench.rt.transaction() as session:
        row = session.scalar(select(TotpPending))
        assert row is not None
        secret = bench.rt.protector.decrypt("totp_pending", "secret_ct", row.person_id, row.secret_ct)
    totp = pyotp.TOTP(secret)
    confirm = bench.client.post(
        "/account/totp/confirm", data={"csrf": form_value(page.text, "csrf"), "code": totp.now()}
    )
    assert confirm.status_code == 200
    # Next login: after the SMS code, the authenticator is asked for, and amr says so.
    bench.rt.settings.sms_per_phone_per_minute = 5
    first = bench.authorize(**bench.auth_params(prompt="login"))
    after_sms = bench.sign_in(first.headers["location"], PHONE)
    assert after_sms.headers["location"].startswith("/login/totp")
    page = bench.client.get(after_sms.headers["location"])
    flow, csrf = form_value(page.text, "flow"), form_value(page.text, "csrf")
    replayed = bench.client.post("/login/totp", data={"flow": flow, "csrf": csrf, "code": totp.now()})
    assert replayed.status_code == 400  # the code used to confirm enrolment can't be used again
    # The next time step (within the one-step drift we allow) is a new code.
    done = bench.client.post("/login/totp", data={"flow": flow, "csrf": csrf, "code": totp.at(time.time() + 30)})
    assert done.status_code == 302  # consent was given at first sign-in: straight back to the client
    final = bench.follow(done)
    code = final.headers["location"].split("code=")[1].split("&")[0]
    token = bench.exchange(code).json()
    from tests.oauth.test_codes import claims_of

    assert claims_of(token["id_token"])["amr"] == ["mfa", "otp", "sms"]
