"""TOTP enrolment, recovery codes and disabling (idp/oauth/totp.py, idp/oauth/recovery.py, /account/totp).

Rules: a GET never changes the secret (reloading shows the same pending one; an enrolled factor is untouched);
a secret is enrolled only by POST, into a pending row, swapped in after a correct code; the QR is drawn on the
server and labelled with the masked phone; ten recovery codes are shown once, stored hashed, usable once each
at the login step; disabling needs a POST with a current code; success is shown as success.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pyotp
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from idp.db import utcnow
from idp.oauth import recovery, totp
from idp.oauth.models import Lockout, TotpFactor, TotpPending, TotpRecoveryCode
from idp.records import people
from idp.web import qr
from tests.oauth.conftest import PHONE, Bench, form_value

CODE_RE = re.compile(r"<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>")


def _sign_in(bench: Bench) -> str:
    bench.code_flow()
    with bench.rt.transaction() as session:
        person = people.find_by_phone(session, bench.rt.protector, PHONE)
        assert person is not None
        return person.id


def _csrf(bench: Bench) -> str:
    return form_value(bench.client.get("/account/totp").text, "csrf")


def _pending_secret(bench: Bench) -> str | None:
    with bench.rt.transaction() as session:
        row = session.scalar(select(TotpPending))
        if row is None:
            return None
        return bench.rt.protector.decrypt("totp_pending", "secret_ct", row.person_id, row.secret_ct)


def _start(bench: Bench) -> str:
    started = bench.client.post("/account/totp/start", data={"csrf": _csrf(bench)})
    assert started.status_code == 303 and started.headers["location"] == "/account/totp"
    secret = _pending_secret(bench)
    assert secret is not None
    return secret


def _enrol(bench: Bench) -> tuple[pyotp.TOTP, list[str]]:
    authenticator = pyotp.TOTP(_start(bench))
    done = bench.client.post("/account/totp/confirm", data={"csrf": _csrf(bench), "code": authenticator.now()})
    assert done.status_code == 200, done.text
    codes = CODE_RE.findall(done.text)
    assert len(codes) == 10
    return authenticator, codes


def _totp_state(bench: Bench) -> dict[str, Any]:
    with bench.rt.transaction() as session:
        return {
            "factors": [
                (r.person_id, r.secret_ct, r.confirmed, r.last_counter) for r in session.scalars(select(TotpFactor))
            ],
            "pending": [(r.person_id, r.secret_ct, r.created_at) for r in session.scalars(select(TotpPending))],
            "codes": sorted((r.code_hash, r.used_at) for r in session.scalars(select(TotpRecoveryCode))),
        }


def _to_totp_step(bench: Bench) -> tuple[str, str]:
    bench.rt.settings.sms_per_phone_per_minute = 50
    first = bench.authorize(**bench.auth_params(prompt="login"))
    after_sms = bench.sign_in(first.headers["location"], PHONE)
    assert after_sms.headers["location"].startswith("/login/totp")
    page = bench.client.get(after_sms.headers["location"])
    return form_value(page.text, "flow"), form_value(page.text, "csrf")


def _next_code(authenticator: pyotp.TOTP) -> str:
    # The code just used is spent (replay protection); the next time step is within the drift we allow.
    return authenticator.at(time.time() + 30)


def test_a_get_never_changes_the_secret(bench: Bench) -> None:
    _sign_in(bench)
    before = _totp_state(bench)
    page = bench.client.get("/account/totp")
    assert page.status_code == 200 and 'action="/account/totp/start"' in page.text
    assert _totp_state(bench) == before == {"factors": [], "pending": [], "codes": []}

    secret = _start(bench)
    pending = _totp_state(bench)
    for _ in range(3):  # reloading the page shows the same secret and changes nothing
        again = bench.client.get("/account/totp")
        assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in again.text
        assert _totp_state(bench) == pending

    authenticator = pyotp.TOTP(secret)
    bench.client.post("/account/totp/confirm", data={"csrf": _csrf(bench), "code": authenticator.now()})
    enrolled = _totp_state(bench)
    assert enrolled["factors"] and not enrolled["pending"]
    bench.client.get("/account/totp")
    bench.client.get("/account/totp")
    assert _totp_state(bench) == enrolled
    # ...and the enrolled authenticator still signs in.
    flow, csrf = _to_totp_step(bench)
    ok = bench.client.post("/login/totp", data={"flow": flow, "csrf": csrf, "code": _next_code(authenticator)})
    assert ok.status_code in (302, 303)


def test_the_pending_secret_is_swapped_in_only_after_a_correct_code(bench: Bench) -> None:
    person_id = _sign_in(bench)
    secret = _start(bench)
    wrong = bench.client.post("/account/totp/confirm", data={"csrf": _csrf(bench), "code": "000000"})
    if pyotp.TOTP(secret).verify("000000", valid_window=1):  # 1 in 330,000: try another wrong code
        wrong = bench.client.post("/account/totp/confirm", data={"csrf": _csrf(bench), "code": "999999"})
    assert wrong.status_code == 400
    assert "验证码不正确" in wrong.text and 'action="/account/totp/confirm"' in wrong.text
    with bench.rt.transaction() as session:
        assert not totp.is_enrolled(session, person_id)
        assert session.get(TotpFactor, person_id) is None
        assert session.get(TotpPending, person_id) is not None  # still there: the person can retry

    done = bench.client.post("/account/totp/confirm", data={"csrf": _csrf(bench), "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    with bench.rt.transaction() as session:
        factor = session.get(TotpFactor, person_id)
        assert factor is not None and factor.confirmed
        assert bench.rt.protector.decrypt("totp_factors", "secret_ct", person_id, factor.secret_ct) == secret
        assert session.get(TotpPending, person_id) is None


def test_success_is_shown_as_success_with_ten_codes_once(bench: Bench) -> None:
    _sign_in(bench)
    authenticator = pyotp.TOTP(_start(bench))
    done = bench.client.post("/account/totp/confirm", data={"csrf": _csrf(bench), "code": authenticator.now()})
    assert done.status_code == 200
    assert 'class="success"' in done.text and "身份验证器已绑定" in done.text
    assert "出错了" not in done.text  # not the error page
    assert done.headers["cache-control"] == "no-store"
    codes = CODE_RE.findall(done.text)
    assert len(set(codes)) == 10
    # Never shown again: the page afterwards has none of them.
    later = bench.client.get("/account/totp").text
    assert not any(code in later for code in codes)
    assert "剩余可用恢复码：10 个" in later


def test_recovery_codes_are_stored_only_as_keyed_hashes(bench: Bench) -> None:
    person_id = _sign_in(bench)
    _, codes = _enrol(bench)
    with bench.rt.transaction() as session:
        rows = list(session.scalars(select(TotpRecoveryCode)))
    assert len(rows) == 10 and all(r.person_id == person_id for r in rows)
    stored = " ".join(r.code_hash for r in rows)
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored


def test_the_qr_code_is_inline_svg_labelled_with_the_masked_phone(bench: Bench) -> None:
    person_id = _sign_in(bench)
    _start(bench)
    page = bench.client.get("/account/totp")
    assert page.headers["cache-control"] == "no-store"
    with bench.rt.transaction() as session:
        shown = totp.pending(session, bench.rt.protector, person_id, "Yiwang", "+86138****8000")
    assert shown is not None
    assert "138%2A%2A%2A%2A8000" in shown.uri or "138****8000" in shown.uri
    assert str(qr.svg(shown.uri, "绑定身份验证器")) in page.text
    assert "<svg" in page.text and "<img" not in page.text
    assert PHONE not in page.text and PHONE[3:] not in page.text


def test_a_recovery_code_works_once_at_the_login_step(bench: Bench) -> None:
    _sign_in(bench)
    _, codes = _enrol(bench)
    flow, csrf = _to_totp_step(bench)
    ok = bench.client.post("/login/totp", data={"flow": flow, "csrf": csrf, "code": codes[0].upper()})
    assert ok.status_code in (302, 303)
    bench.follow(ok)
    flow, csrf = _to_totp_step(bench)
    again = bench.client.post("/login/totp", data={"flow": flow, "csrf": csrf, "code": codes[0]})
    assert again.status_code == 400
    with bench.rt.transaction() as session:
        person = people.find_by_phone(session, bench.rt.protector, PHONE)
        assert person is not None
        assert recovery.remaining(session, person.id) == 9
        lock = session.get(Lockout, f"totp:{person.id}")
        assert lock is not None and lock.failures == 1  # a spent code counts as a failure
    other = bench.client.post("/login/totp", data={"flow": flow, "csrf": csrf, "code": codes[1]})
    assert other.status_code in (302, 303)


def test_a_recovery_code_is_bound_to_its_person(bench: Bench) -> None:
    person_id = _sign_in(bench)
    _, codes = _enrol(bench)
    with bench.rt.transaction() as session:
        other = people.register_by_phone(session, bench.rt.protector, "+8613900009999", channel="web", client=None)
        other_id = other.id
        session.flush()
        totp.start_enrolment(session, bench.rt.protector, other_id)
        row = session.get(TotpPending, other_id)
        assert row is not None
        secret = bench.rt.protector.decrypt("totp_pending", "secret_ct", other_id, row.secret_ct)
    with bench.rt.transaction() as session:
        assert isinstance(
            totp.confirm_enrolment(session, bench.rt.protector, other_id, pyotp.TOTP(secret).now(), 5), list
        )
    with bench.rt.transaction() as session:
        refused = totp.verify_second_factor(session, bench.rt.protector, other_id, codes[0], 5)
    assert refused is not None and refused.reason == "wrong_code"
    with bench.rt.transaction() as session:
        assert recovery.remaining(session, person_id) == 10


def test_a_new_enrolment_replaces_the_recovery_codes(rt: Any) -> None:
    from idp.records import people as records

    with rt.transaction() as session:
        person = records.register_by_phone(session, rt.protector, "+8613900001111", channel="web", client=None)
        session.flush()
        first = recovery.replace_all(session, rt.protector, person.id)
        second = recovery.replace_all(session, rt.protector, person.id)
        assert not recovery.use(session, rt.protector, person.id, first[0])
        assert recovery.use(session, rt.protector, person.id, second[0])
        assert recovery.remaining(session, person.id) == 9


def test_disabling_needs_a_post_with_a_current_code(bench: Bench) -> None:
    person_id = _sign_in(bench)
    authenticator, _ = _enrol(bench)
    enrolled = _totp_state(bench)
    assert bench.client.get("/account/totp/disable").status_code in (404, 405)
    assert _totp_state(bench) == enrolled
    wrong = bench.client.post("/account/totp/disable", data={"csrf": _csrf(bench), "code": "12345"})
    assert wrong.status_code == 400 and "验证码不正确" in wrong.text
    with bench.rt.transaction() as session:
        assert totp.is_enrolled(session, person_id)
    no_csrf = bench.client.post("/account/totp/disable", data={"csrf": "x", "code": _next_code(authenticator)})
    assert no_csrf.status_code == 400
    with bench.rt.transaction() as session:
        assert totp.is_enrolled(session, person_id)

    done = bench.client.post("/account/totp/disable", data={"csrf": _csrf(bench), "code": _next_code(authenticator)})
    assert done.status_code == 200 and 'class="success"' in done.text and "身份验证器已解绑" in done.text
    assert _totp_state(bench) == {"factors": [], "pending": [], "codes": []}
    # The next sign-in asks for no authenticator.
    bench.rt.settings.sms_per_phone_per_minute = 50
    first = bench.authorize(**bench.auth_params(prompt="login"))
    after_sms = bench.sign_in(first.headers["location"], PHONE)
    assert not after_sms.headers["location"].startswith("/login/totp")


def test_a_lost_phone_can_disable_with_a_recovery_code(bench: Bench) -> None:
    person_id = _sign_in(bench)
    _, codes = _enrol(bench)
    done = bench.client.post("/account/totp/disable", data={"csrf": _csrf(bench), "code": codes[3]})
    assert done.status_code == 200
    with bench.rt.transaction() as session:
        assert not totp.is_enrolled(session, person_id)


def test_enrolling_over_an_enrolled_factor_is_refused(bench: Bench) -> None:
    _sign_in(bench)
    _enrol(bench)
    enrolled = _totp_state(bench)
    again = bench.client.post("/account/totp/start", data={"csrf": _csrf(bench)})
    assert again.status_code == 409 and "请先解绑" in again.text
    assert _totp_state(bench) == enrolled


def test_forms_without_the_csrf_token_change_nothing(bench: Bench) -> None:
    _sign_in(bench)
    assert bench.client.post("/account/totp/start", data={"csrf": "forged"}).status_code == 400
    assert _totp_state(bench)["pending"] == []
    secret = _start(bench)
    forged = bench.client.post("/account/totp/confirm", data={"csrf": "forged", "code": pyotp.TOTP(secret).now()})
    assert forged.status_code == 400
    assert _totp_state(bench)["factors"] == []


def test_signed_out_people_get_a_sign_in_page_and_nothing_changes(bench: Bench) -> None:
    page = bench.client.get("/account/totp")
    assert page.status_code == 401 and "请先登录" in page.text


def test_confirm_attempts_lock_out_with_beijing_time(bench: Bench) -> None:
    _sign_in(bench)
    secret = _start(bench)
    authenticator = pyotp.TOTP(secret)
    wrong = next(f"{n:06d}" for n in range(1000) if not authenticator.verify(f"{n:06d}", valid_window=1))
    last = None
    for _ in range(bench.rt.settings.otp_max_attempts):
        last = bench.client.post("/account/totp/confirm", data={"csrf": _csrf(bench), "code": wrong})
    assert last is not None and last.status_code == 400 and "北京时间" in last.text
    locked = bench.client.post("/account/totp/confirm", data={"csrf": _csrf(bench), "code": authenticator.now()})
    assert locked.status_code == 400 and "北京时间" in locked.text
    assert _totp_state(bench)["factors"] == []


def test_a_pending_secret_expires(bench: Bench) -> None:
    _sign_in(bench)
    secret = _start(bench)
    csrf = _csrf(bench)
    with time_machine.travel(utcnow() + totp.PENDING_TTL + timedelta(minutes=1), tick=False):
        code = pyotp.TOTP(secret).now()
        late = bench.client.post("/account/totp/confirm", data={"csrf": csrf, "code": code})
        assert late.status_code == 400 and "重新开始" in late.text
    assert _totp_state(bench)["factors"] == []


def test_the_page_speaks_english_too(bench: Bench) -> None:
    _sign_in(bench)
    _start(bench)
    page = bench.client.get("/account/totp?lang=en")
    assert "Scan this QR code" in page.text and "扫描" not in page.text


@given(st.text(max_size=40))
def test_recovery_code_parsing_never_accepts_malformed_text(text: str) -> None:
    cleaned = recovery.normalize(text)
    assert cleaned is None or (len(cleaned) == recovery.LENGTH and set(cleaned) <= set(recovery.ALPHABET))


@given(st.text(alphabet=recovery.ALPHABET, min_size=10, max_size=10))
def test_recovery_codes_read_back_in_any_case_and_grouping(code: str) -> None:
    assert recovery.normalize(f"{code[:5]}-{code[5:]}".upper()) == code
    assert recovery.normalize(f" {code[:5]} {code[5:]} ") == code
    assert not totp.recovery.looks_like(code[:9])


def test_an_over_long_code_gets_the_page_not_a_validation_dump(bench: Bench) -> None:
    _sign_in(bench)
    _start(bench)
    long = bench.client.post("/account/totp/confirm", data={"csrf": _csrf(bench), "code": "1" * 40})
    assert long.status_code == 400 and "验证码不正确" in long.text and "body." not in long.text
    assert 'action="/account/totp/confirm"' in long.text  # the enrolment goes on
    assert _totp_state(bench)["factors"] == []
