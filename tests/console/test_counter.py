"""The counter tool: an in-person check recorded by counter staff lets the citizen's waiting sign-in go on at
loa:3 (method `counter`); every refusal is refused and changes nothing (only the refusal is audited)."""

from __future__ import annotations

import time
from typing import Any

import time_machine
from sqlalchemy import select

from idp.audit import AuditEvent
from idp.oauth.acr import LOA3
from idp.records import people
from idp.web.console.counter import _seal
from tests.console.conftest import (
    ADMIN,
    CITIZEN,
    COUNTER,
    OTHER,
    Bench,
    csrf_of,
    make_person,
    next_code,
    second_browser,
    signed_in,
)
from tests.oauth.conftest import form_value, query_of
from tests.oauth.test_codes import claims_of
from tests.web.test_no_get_changes_state import changes, dump

AUDIT_ONLY = {"audit_events", "audit_unsealed"}


def waiting_citizen(bench: Bench, who: dict[str, str] = CITIZEN, *, bound: bool = True) -> tuple[Bench, str, str, str]:
    """A citizen (their own browser) at the loa:3 step-up who chose the counter: (browser, flow, csrf, code)."""
    citizen = second_browser(bench)
    make_person(bench, who, source="carrier" if bound else None)
    first = citizen.authorize(**citizen.auth_params(acr_values=LOA3))
    at_stepup = citizen.sign_in(first.headers["location"], who["phone"])
    assert at_stepup.headers["location"].startswith("/stepup?flow="), at_stepup.headers["location"]
    page = citizen.client.get(at_stepup.headers["location"])
    flow, csrf = form_value(page.text, "flow"), form_value(page.text, "csrf")
    issued = citizen.client.post("/stepup/counter", data={"flow": flow, "csrf": csrf})
    code = issued.text.split('class="counter-code" aria-label="')[1].split('"')[0].replace(" ", "")
    return citizen, flow, csrf, code


def look(bench: Bench, code: str, who: dict[str, str], hall: str = "city") -> Any:
    csrf = csrf_of(bench.client.get("/console/counter").text)
    form = {"csrf": csrf, "code": code, "name": who["name"], "id_number": who["id_number"], "hall": hall}
    return bench.client.post("/console/counter/lookup", data=form)


def record(bench: Bench, looked: Any) -> Any:
    assert looked.status_code == 200, looked.text
    form = {"csrf": form_value(looked.text, "csrf"), "sealed": form_value(looked.text, "sealed"), "confirm": "yes"}
    return bench.client.post("/console/counter/check", data=form)


def refused_and_unchanged(bench: Bench, response: Any, before: dict[str, Any], status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert "不能记录" in response.text
    diff = changes(before, dump(bench))
    assert set(diff) <= AUDIT_ONLY, diff


def test_a_counter_check_lets_the_waiting_citizen_continue_at_loa3(bench: Bench) -> None:
    staff = signed_in(bench, COUNTER, "counter", hall="city")
    citizen, flow, csrf, code = waiting_citizen(bench)
    looked = look(bench, code, CITIZEN)
    assert "137****7004" in looked.text and CITIZEN["id_number"] not in looked.text
    done = record(bench, looked)
    assert done.status_code == 200 and "已记录现场核验" in done.text
    final = citizen.follow(citizen.client.post("/stepup/counter/continue", data={"flow": flow, "csrf": csrf}))
    claims = claims_of(citizen.exchange(query_of(final.headers["location"])["code"]).json()["id_token"])
    assert claims["acr"] == LOA3 and "counter" in claims["amr"]
    with bench.rt.transaction() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "proofing.counter"))
        assert event is not None and event.actor == staff.person_id and event.detail["hall"] == "city"
        person = people.find_by_phone(session, bench.rt.protector, CITIZEN["phone"])
        assert person is not None and person.proofing_level == 3 and person.id_proof_source == "counter"


def test_a_code_is_recorded_once(bench: Bench) -> None:
    signed_in(bench, COUNTER, "counter")
    _, _, _, code = waiting_citizen(bench)
    looked = look(bench, code, CITIZEN)
    assert record(bench, looked).status_code == 200
    before = dump(bench)
    refused_and_unchanged(bench, record(bench, looked), before)


def test_an_expired_code_is_refused(bench: Bench) -> None:
    signed_in(bench, COUNTER, "counter")
    settings = bench.client.app.state.settings  # type: ignore[attr-defined]
    settings.counter_code_ttl = ttl = 120  # shorter than the console's idle timeout
    _, _, _, code = waiting_citizen(bench)
    looked = look(bench, code, CITIZEN)
    with time_machine.travel(time.time() + ttl + 1, tick=True):
        before = dump(bench)
        refused_and_unchanged(bench, record(bench, looked), before)


def test_staff_cannot_check_their_own_waiting_sign_in(bench: Bench) -> None:
    staff = signed_in(bench, COUNTER, "counter")
    # A minute later (a new SMS to the same phone may be sent, a new authenticator code is due) the same person
    # signs in to a department's site in their own browser and goes to the counter.
    with time_machine.travel(time.time() + 61, tick=True):
        own = second_browser(bench)
        first = own.authorize(**own.auth_params(acr_values=LOA3))
        after_sms = own.sign_in(first.headers["location"], staff.phone)
        totp_page = own.client.get(after_sms.headers["location"])
        stepup = own.client.post(
            "/login/totp",
            data={"flow": form_value(totp_page.text, "flow"), "csrf": form_value(totp_page.text, "csrf"),
                  "code": next_code(staff.secret)},
        )  # fmt: skip
        page = own.client.get(stepup.headers["location"])
        flow, csrf = form_value(page.text, "flow"), form_value(page.text, "csrf")
        issued = own.client.post("/stepup/counter", data={"flow": flow, "csrf": csrf})
        code = issued.text.split('class="counter-code" aria-label="')[1].split('"')[0]
        assert look(bench, code, COUNTER).status_code == 400  # the look-up says so already
        # The check refuses too, whatever the look-up said (a hand-made form reaches it directly).
        engine = bench.client.app.state.engine  # type: ignore[attr-defined]
        console_csrf = csrf_of(bench.client.get("/console/counter").text)
        key = _session_key(bench)
        for who in (COUNTER, CITIZEN):  # own number, or another's number on one's own code
            values = {"code": code, "name": who["name"], "id_number": who["id_number"], "hall": "city"}
            sealed = _seal(engine, _staff_for(key), values)
            before = dump(bench)
            response = bench.client.post(
                "/console/counter/check", data={"csrf": console_csrf, "sealed": sealed, "confirm": "yes"}
            )
            refused_and_unchanged(bench, response, before, 403)


def _session_key(bench: Bench) -> str:
    from idp.staff.models import ConsoleSession

    with bench.rt.transaction() as session:
        key = session.scalar(select(ConsoleSession.id_hash))
        assert key is not None
        return key


def _staff_for(key: str) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(session_key=key)


def test_staff_cannot_bind_their_own_number_to_a_citizen(bench: Bench) -> None:
    signed_in(bench, COUNTER, "counter")
    _, _, _, code = waiting_citizen(bench, OTHER, bound=False)
    assert look(bench, code, COUNTER).status_code == 400
    engine = bench.client.app.state.engine  # type: ignore[attr-defined]
    sealed = _seal(engine, _staff_for(_session_key(bench)),
                   {"code": code, "name": COUNTER["name"], "id_number": COUNTER["id_number"], "hall": "city"})  # fmt: skip
    csrf = csrf_of(bench.client.get("/console/counter").text)
    before = dump(bench)
    response = bench.client.post("/console/counter/check", data={"csrf": csrf, "sealed": sealed, "confirm": "yes"})
    refused_and_unchanged(bench, response, before, 403)


def test_an_account_holding_another_number_is_refused(bench: Bench) -> None:
    signed_in(bench, COUNTER, "counter")
    _, _, _, code = waiting_citizen(bench)  # bound to CITIZEN's number
    looked = look(bench, code, OTHER)  # staff type another card's number
    before = dump(bench)
    refused_and_unchanged(bench, record(bench, looked), before, 409)


def test_a_number_an_equal_counter_check_bound_elsewhere_is_refused(bench: Bench) -> None:
    signed_in(bench, COUNTER, "counter")
    make_person(bench, {**OTHER, "id_number": CITIZEN["id_number"]}, source="counter")  # the number's holder
    _, _, _, code = waiting_citizen(bench, {**CITIZEN, "phone": "13700137009"}, bound=False)
    looked = look(bench, code, CITIZEN)
    before = dump(bench)
    refused_and_unchanged(bench, record(bench, looked), before, 409)


def test_counter_staff_of_another_hall_are_refused(bench: Bench) -> None:
    signed_in(bench, COUNTER, "counter", hall="east")
    _, _, _, code = waiting_citizen(bench)
    assert 'value="city"' not in bench.client.get("/console/counter").text  # only their own hall is offered
    looked = look(bench, code, CITIZEN, hall="city")  # a hand-made form
    before = dump(bench)
    refused_and_unchanged(bench, record(bench, looked), before, 403)
    assert record(bench, look(bench, code, CITIZEN, hall="east")).status_code == 200


def test_without_confirming_the_card_nothing_is_recorded(bench: Bench) -> None:
    signed_in(bench, COUNTER, "counter")
    _, _, _, code = waiting_citizen(bench)
    looked = look(bench, code, CITIZEN)
    form = {"csrf": form_value(looked.text, "csrf"), "sealed": form_value(looked.text, "sealed")}
    before = dump(bench)
    refused_and_unchanged(bench, bench.client.post("/console/counter/check", data=form), before)


def test_a_form_sealed_for_another_console_session_is_refused(bench: Bench) -> None:
    signed_in(bench, COUNTER, "counter")
    _, _, _, code = waiting_citizen(bench)
    looked = look(bench, code, CITIZEN)
    engine = bench.client.app.state.engine  # type: ignore[attr-defined]
    forged = _seal(engine, _staff_for("another-session"),
                   {"code": code, "name": CITIZEN["name"], "id_number": CITIZEN["id_number"], "hall": "city"})  # fmt: skip
    before = dump(bench)
    response = bench.client.post(
        "/console/counter/check", data={"csrf": form_value(looked.text, "csrf"), "sealed": forged, "confirm": "yes"}
    )
    refused_and_unchanged(bench, response, before)


def test_an_admin_without_the_counter_role_cannot_record(bench: Bench) -> None:
    signed_in(bench, ADMIN, "admin")
    _, _, _, code = waiting_citizen(bench)
    csrf = csrf_of(bench.client.get("/console").text)
    before = dump(bench)
    assert (
        bench.client.post("/console/counter/check", data={"csrf": csrf, "sealed": "x", "confirm": "yes"}).status_code
        == 403
    )
    assert changes(before, dump(bench)) == {}
