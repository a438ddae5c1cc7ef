"""The sign-in journey through the engine, over HTTP: round trips, units of work, the one-page form and its
field errors, the user agreement, the counter code, and requests that try to smuggle journey facts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from idp.authn import counter, journey
from idp.authn.models import CounterCode, TermsAcceptance
from idp.oauth.acr import LOA3
from idp.oauth.models import AuthFlow
from idp.proofing.models import IdClaim
from idp.records import people
from tests.oauth.conftest import PHONE, REDIRECT, Bench, form_value, query_of
from tests.proofing.test_stepup import ZHANG, _to_stepup


@contextmanager
def counting_requests(bench: Bench) -> Iterator[list[str]]:
    seen: list[str] = []

    def hook(request: Any) -> None:
        seen.append(f"{request.method} {request.url.path}")

    hooks = bench.client.event_hooks
    hooks["request"].append(hook)
    try:
        yield seen
    finally:
        hooks["request"].remove(hook)


@contextmanager
def counting_writes(bench: Bench) -> Iterator[list[str]]:
    """Every write transaction the app's engine begins (read-only connections are not writes)."""
    engine = bench.client.app.state.runtime.engine  # type: ignore[attr-defined]
    writes: list[str] = []

    def on_begin(conn: Any) -> None:
        if not conn.get_execution_options().get("read_only", False):
            writes.append("write")

    event.listen(engine, "begin", on_begin)
    try:
        yield writes
    finally:
        event.remove(engine, "begin", on_begin)


def _login_form(page_text: str, phone: str, code: str = "") -> dict[str, str]:
    return {"flow": form_value(page_text, "flow"), "csrf": form_value(page_text, "csrf"), "phone": phone, "code": code}


def test_a_first_sign_in_takes_five_requests_and_a_returning_one_two(bench: Bench) -> None:
    with counting_requests(bench) as seen:
        tokens = bench.tokens(phone="13900000011")
    ours = [r for r in seen if not r.endswith("/sandbox/sms/outbox")]
    # authorize → login page → send code → code (+consent, +agreement) → token.
    assert ours == ["GET /authorize", "GET /login", "POST /login/sms", "POST /login/code", "POST /token"], seen
    assert len(seen) <= 6 and "id_token" in tokens
    with counting_requests(bench) as seen:
        again = bench.tokens(phone="13900000011")
    assert seen == ["GET /authorize", "POST /token"] and "id_token" in again


def test_each_step_of_a_sign_in_is_one_unit_of_work(bench: Bench) -> None:
    per_request: dict[str, int] = {}
    first = bench.authorize(**bench.auth_params())
    steps: list[tuple[str, Any]] = [
        ("login page", lambda: bench.client.get(first.headers["location"])),
    ]
    with counting_writes(bench) as writes:
        page = steps[0][1]()
    per_request["GET /login"] = len(writes)
    form = _login_form(page.text, "13900000012")
    with counting_writes(bench) as writes:
        sent = bench.client.post("/login/sms", data=form)
    # The code is stored in one unit; the sandbox SMS provider's call is audited after it returns.
    per_request["POST /login/sms"] = len(writes)
    assert sent.status_code == 200
    form["code"], form["agree"], form["decision"] = bench.outbox_code("13900000012"), "yes", "approve"
    with counting_writes(bench) as writes:
        done = bench.client.post("/login/code", data=form)
    per_request["POST /login/code"] = len(writes)
    assert done.status_code == 302 and done.headers["location"].startswith(REDIRECT)
    code = query_of(done.headers["location"])["code"]
    with counting_writes(bench) as writes:
        assert bench.exchange(code).status_code == 200
    per_request["POST /token"] = len(writes)
    assert per_request == {"GET /login": 0, "POST /login/sms": 2, "POST /login/code": 1, "POST /token": 1}


def test_code_consumption_registration_session_and_consent_commit_together(bench: Bench) -> None:
    """A failure late in the step (here: the client removed meanwhile) keeps nothing of it."""
    first = bench.authorize(**bench.auth_params())
    page = bench.client.get(first.headers["location"])
    form = _login_form(page.text, "13900000013")
    bench.client.post("/login/sms", data=form)
    form.update(code=bench.outbox_code("13900000013"), agree="yes", decision="approve")
    with bench.rt.transaction() as session:
        flow = session.get(AuthFlow, form["flow"])
        assert flow is not None
        flow.params = {**flow.params, "scope": "openid", "response_type": "bogus"}
    done = bench.client.post("/login/code", data=form)
    assert done.status_code == 302 and query_of(done.headers["location"])["error"] == "unsupported_response_type"
    with bench.rt.transaction() as session:
        # The person registered and the session exist: the code was good; the flow is finished, not left half.
        assert people.find_by_phone(session, bench.rt.protector, "+8613900000013") is not None
        assert session.get(AuthFlow, form["flow"]) is None


def test_empty_or_overlong_fields_come_back_on_the_same_page_in_its_language(bench: Bench) -> None:
    first = bench.authorize(**bench.auth_params())
    page = bench.client.get(first.headers["location"])
    empty = bench.client.post("/login/sms", data={**_login_form(page.text, "")})
    assert empty.status_code == 400 and "请输入手机号码" in empty.text and "Field required" not in empty.text
    assert 'name="flow"' in empty.text  # the journey survives
    missing = bench.client.post(
        "/login/sms", data={"flow": form_value(page.text, "flow"), "csrf": form_value(page.text, "csrf")}
    )
    assert missing.status_code == 400 and "请输入手机号码" in missing.text
    for length in (200, 5000):
        long = bench.client.post("/login/sms", data=_login_form(page.text, "1" * length))
        assert long.status_code == 400 and "请输入正确的中国大陆手机号码" in long.text and 'name="flow"' in long.text
    english = bench.client.post("/login/sms?lang=en", data=_login_form(page.text, "12"))
    assert (
        "Please enter a valid mainland China mobile number" in english.text
        and "手机" not in english.text.split("<main>")[1].split("中文")[0]
    )


def test_the_number_is_kept_after_an_error_and_the_resend_interval_is_said(bench: Bench) -> None:
    first = bench.authorize(**bench.auth_params())
    page = bench.client.get(first.headers["location"])
    form = _login_form(page.text, "13900000014")
    sent = bench.client.post("/login/sms", data=form)
    assert 'value="13900000014"' in sent.text and 'data-wait="60"' in sent.text and "60 秒后可重新获取" in sent.text
    again = bench.client.post("/login/sms", data=form)
    assert again.status_code == 429 and "秒后可重新获取" in again.text and 'value="13900000014"' in again.text
    wrong_format = bench.client.post("/login/code", data={**form, "code": "12", "agree": "yes"})
    assert (
        wrong_format.status_code == 400
        and "6 位数字" in wrong_format.text
        and 'value="13900000014"' in wrong_format.text
    )


def test_the_user_agreement_must_be_accepted_and_its_version_is_recorded(bench: Bench) -> None:
    first = bench.authorize(**bench.auth_params())
    page = bench.client.get(first.headers["location"])
    assert 'href="/terms?v=' in page.text
    form = _login_form(page.text, "13900000015")
    bench.client.post("/login/sms", data=form)
    code = bench.outbox_code("13900000015")
    refused = bench.client.post("/login/code", data={**form, "code": code, "decision": "approve"})
    assert (
        refused.status_code == 400
        and "用户服务协议" in refused.text
        and "yw_session" not in refused.headers.get("set-cookie", "")
    )
    with bench.rt.transaction() as session:
        assert people.find_by_phone(session, bench.rt.protector, "+8613900000015") is None  # nothing registered
    done = bench.client.post("/login/code", data={**form, "code": code, "agree": "yes", "decision": "approve"})
    assert done.status_code == 302
    with bench.rt.transaction() as session:
        row = session.scalar(select(TermsAcceptance))
        assert row is not None and row.version == bench.rt.settings.terms_version
    assert bench.client.get("/terms").status_code == 200


def test_a_typo_in_an_id_number_is_said_before_any_provider_is_called(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, "urn:yiwang:loa:2", ZHANG["phone"])
    typo = ZHANG["id_number"][:-1] + ("1" if ZHANG["id_number"][-1] != "1" else "2")
    before = bench.client.get("/sandbox/sms/outbox", params={"phone": ZHANG["phone"]})
    assert before.status_code == 200
    response = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": ZHANG["name"], "id_number": typo}
    )
    assert response.status_code == 400 and "校验位" in response.text and typo not in response.text
    with bench.rt.transaction() as session:
        from idp import audit

        calls = [e for e in audit.tail(session, 20) if e.action.startswith("provider.") and e.subject == "registry"]
    assert calls == []  # no paid call for a typo


def test_levels_are_named_for_people_never_as_urns(bench: Bench) -> None:
    flow, _ = _to_stepup(bench, "urn:yiwang:loa:2", ZHANG["phone"])
    page = bench.client.get(f"/stepup?flow={flow}")
    assert "实名认证" in page.text and "urn:yiwang" not in page.text


def test_journey_facts_can_not_be_smuggled_in_the_authorization_request(bench: Bench) -> None:
    """A request parameter named like a journey fact (e.g. `_consented`) is dropped when the journey starts."""
    params = bench.auth_params(**{journey.CONSENTED: "x", journey.FRESH_SID: "x", journey.STEPUP_DECLINED: "x"})
    first = bench.authorize(**params)
    flow_id = query_of(first.headers["location"])["flow"]
    with bench.rt.transaction() as session:
        flow = session.get(AuthFlow, flow_id)
        assert flow is not None
        assert not {journey.CONSENTED, journey.FRESH_SID, journey.STEPUP_DECLINED} & set(flow.params)


def test_post_authorize_is_supported(bench: Bench) -> None:
    """OIDC Core §3.1.2.1: the authorization endpoint MUST support GET and POST."""
    bench.code_flow()
    response = bench.client.post("/authorize", data=bench.auth_params())
    assert response.status_code == 302 and "code" in query_of(response.headers["location"])


def test_a_counter_code_raises_the_level_only_once_staff_redeem_it(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA3, ZHANG["phone"])
    bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": ZHANG["name"], "id_number": ZHANG["id_number"]}
    )
    page = bench.client.get(f"/stepup/counter?flow={flow}")
    assert "市民服务中心" in page.text and "9:00" in page.text  # the halls and their hours
    issued = bench.client.post("/stepup/counter", data={"flow": flow, "csrf": csrf})
    assert issued.status_code == 200 and "<svg" in issued.text
    code = issued.text.split('class="counter-code" aria-label="')[1].split('"')[0].replace(" ", "")
    early = bench.client.post("/stepup/counter/continue", data={"flow": flow, "csrf": csrf})
    assert early.status_code == 400 and "尚未完成核验" in early.text
    engine = bench.client.app.state.engine  # type: ignore[attr-defined]
    card = {"name": ZHANG["name"], "id_number": ZHANG["id_number"]}  # what staff read off the ID card
    with bench.rt.transaction() as session:
        assert not isinstance(counter.redeem(engine, session, "00000000", hall="city", staff="staff-1", **card), str)
        assert session.scalar(select(CounterCode).where(CounterCode.redeemed_at.is_not(None))) is None
        wrong_hall = counter.redeem(engine, session, code, hall="nowhere", staff="staff-1", **card)
        assert not isinstance(wrong_hall, str)
        person_id = counter.redeem(engine, session, code, hall="city", staff="staff-1", **card)
        assert isinstance(person_id, str)
        assert not isinstance(counter.redeem(engine, session, code, hall="city", staff="staff-1", **card), str)  # once
    done = bench.client.post("/stepup/counter/continue", data={"flow": flow, "csrf": csrf})
    final = bench.follow(done)
    params = query_of(final.headers["location"])
    from tests.oauth.test_codes import claims_of

    claims = claims_of(bench.exchange(params["code"]).json()["id_token"])
    assert claims["acr"] == LOA3 and "counter" in claims["amr"]


@pytest.mark.parametrize("phone", [PHONE])
def test_a_busy_database_is_a_503_not_a_500(bench: Bench, phone: str) -> None:
    """SQLite's write lock held elsewhere past the busy timeout: the step answers 503 and keeps nothing."""
    first = bench.authorize(**bench.auth_params())
    page = bench.client.get(first.headers["location"])
    engine = bench.client.app.state.runtime.engine  # type: ignore[attr-defined]
    if engine.dialect.name != "sqlite":
        pytest.skip("the SQLite write lock is what this provokes")
    import sqlite3

    holder = sqlite3.connect(engine.url.database, timeout=0.1)
    holder.execute("BEGIN IMMEDIATE")
    try:

        def short_timeout(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA busy_timeout=100")

        event.listen(engine, "connect", short_timeout)
        engine.pool.dispose()  # new connections get the short busy timeout
        try:
            busy = bench.client.post("/login/sms", data=_login_form(page.text, phone))
        finally:
            event.remove(engine, "connect", short_timeout)
            engine.pool.dispose()
    finally:
        holder.rollback()
        holder.close()
    assert busy.status_code == 503 and busy.headers.get("retry-after") == "2"
    assert bench.client.get("/sandbox/sms/outbox", params={"phone": phone}).json()["messages"] == []


def test_step_up_needs_this_journeys_own_session(bench: Bench) -> None:
    """Without the session the journey signed in with, no step-up method runs and nothing is claimed."""
    flow, csrf = _to_stepup(bench, "urn:yiwang:loa:2", ZHANG["phone"])
    bench.client.cookies.delete("yw_session")
    data = {"flow": flow, "csrf": csrf, "name": ZHANG["name"], "id_number": ZHANG["id_number"]}
    refused = bench.client.post("/stepup/registry", data=data, headers={"accept": "text/html"})
    assert refused.status_code == 400 and "请先登录" in refused.text
    challenge = bench.client.post("/stepup/face/challenge", json={"flow": flow, "csrf": csrf})
    assert challenge.status_code == 400 and challenge.headers["content-type"].startswith("application/problem+json")
    with bench.rt.transaction() as session:
        assert session.scalar(select(IdClaim)) is None
