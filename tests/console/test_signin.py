"""Console sign-in through our own provider: loa:2 with the authenticator, staff only, its own session."""

from __future__ import annotations

import time

import time_machine
from sqlalchemy import select

from idp.proofing import strength
from idp.records import people
from idp.staff import roles
from idp.staff.models import ConsoleSession
from tests.console.conftest import (
    ADMIN,
    CITIZEN,
    Bench,
    Member,
    csrf_of,
    grant,
    make_person,
    make_staff,
    sign_in,
    signed_in,
)
from tests.oauth.conftest import ISSUER


def test_staff_sign_in_with_sms_and_totp_opens_the_console(bench: Bench) -> None:
    admin = make_staff(bench, ADMIN, "admin")
    done = sign_in(bench, admin)
    assert done.status_code == 303 and done.headers["location"] == "/console", done.text
    cookie = done.headers["set-cookie"]
    assert "yw_console=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    home = bench.client.get("/console")
    assert home.status_code == 200 and "王*" in home.text and "/console/staff" in home.text
    with bench.rt.transaction() as session:
        assert session.scalar(select(ConsoleSession.person_id)) == admin.person_id


def _sessions(bench: Bench) -> int:
    with bench.rt.transaction() as session:
        return len(list(session.scalars(select(ConsoleSession))))


def test_a_person_without_a_staff_role_sees_not_staff_and_gets_no_session(bench: Bench) -> None:
    citizen = make_staff(bench, CITIZEN)  # proven number and an authenticator, but no role
    done = sign_in(bench, citizen)
    assert done.status_code == 403 and "您不是工作人员" in done.text
    assert _sessions(bench) == 0
    assert bench.client.get("/console").text.count('action="/console/signin"') == 1  # still signed out


def test_staff_without_an_authenticator_is_told_to_enrol_one(bench: Bench) -> None:
    person_id = make_person(bench, ADMIN)
    grant(bench, ADMIN, "admin")
    done = sign_in(bench, Member(person_id, ADMIN["phone"], ADMIN["id_number"], ""))
    assert done.status_code == 403 and "/account/totp" in done.text
    assert _sessions(bench) == 0


def test_a_role_on_a_number_bound_only_by_an_operator_is_not_held(bench: Bench) -> None:
    with bench.rt.transaction() as session:
        person = people.add(session, bench.rt.protector, id_number=ADMIN["id_number"], name=ADMIN["name"])
        person.id_proof = strength.OPERATOR
        roles.grant(session, bench.rt.protector, id_number=ADMIN["id_number"], role="admin", hall=None,
                    halls=set(), actor="test", channel="cli")  # fmt: skip
        session.flush()
        assert roles.held(session, person) == []
        person.id_proof = strength.CARRIER
        assert roles.held(session, person) == [roles.Held("admin", None)]


def test_the_callback_refuses_a_foreign_state_and_keeps_nothing(bench: Bench) -> None:
    admin = make_staff(bench, ADMIN, "admin")
    bench.client.post("/console/signin")
    forged = bench.client.get("/console/callback", params={"code": "x", "state": "not-ours", "iss": ISSUER})
    assert forged.status_code == 400
    assert _sessions(bench) == 0
    assert sign_in(bench, admin).status_code == 303


def test_idle_and_absolute_timeouts_end_the_console_session(bench: Bench) -> None:
    signed_in(bench, ADMIN, "admin")
    settings = bench.client.app.state.settings  # type: ignore[attr-defined]
    with time_machine.travel(time.time() + settings.console_idle_s - 60, tick=True):
        assert bench.client.get("/console/staff").status_code == 200  # used: the idle stamp is renewed
    with time_machine.travel(time.time() + settings.console_idle_s + 60, tick=True):
        # the stamp renewed above is within the idle time of this moment; one more idle period ends it
        assert bench.client.get("/console/staff").status_code == 200
    with time_machine.travel(time.time() + 3 * settings.console_idle_s, tick=True):
        gone = bench.client.get("/console/staff")
        assert gone.status_code == 303 and gone.headers["location"] == "/console"
    signed_in_again = bench.client.get("/console")
    assert 'action="/console/signin"' in signed_in_again.text


def test_the_absolute_lifetime_holds_even_when_used(bench: Bench) -> None:
    signed_in(bench, ADMIN, "admin")
    settings = bench.client.app.state.settings  # type: ignore[attr-defined]
    start = time.time()
    step = settings.console_idle_s - 60
    moment = start
    while moment - start < settings.console_ttl_s - step:
        moment += step
        with time_machine.travel(moment, tick=True):
            assert bench.client.get("/console/staff").status_code == 200
    with time_machine.travel(start + settings.console_ttl_s + 10, tick=True):
        assert bench.client.get("/console/staff").status_code == 303


def test_a_forged_idle_stamp_is_no_session(bench: Bench) -> None:
    signed_in(bench, ADMIN, "admin")
    value = bench.client.cookies.get("yw_console")
    assert value is not None
    token, seen, mac = value.split(".")
    bench.client.cookies.set("yw_console", f"{token}.{int(seen) + 10_000}.{mac}")
    assert bench.client.get("/console/staff").status_code == 303


def test_sign_out_needs_the_csrf_token_and_ends_the_session(bench: Bench) -> None:
    signed_in(bench, ADMIN, "admin")
    page = bench.client.get("/console")
    refused = bench.client.post("/console/signout", data={})
    assert refused.status_code == 400
    assert bench.client.get("/console/staff").status_code == 200
    out = bench.client.post("/console/signout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    with bench.rt.transaction() as session:
        assert session.scalar(select(ConsoleSession.ended_at)) is not None


def test_a_revoked_role_stops_working_at_once(bench: Bench) -> None:
    signed_in(bench, ADMIN, "admin")
    with bench.rt.transaction() as session:
        roles.revoke(session, bench.rt.protector, id_number=ADMIN["id_number"], role="admin", actor="t", channel="cli")
    assert bench.client.get("/console/staff").status_code == 403


def test_the_session_cookie_is_host_prefixed_and_secure_on_https(bench: Bench) -> None:
    from idp.staff import console_sessions

    assert console_sessions.cookie_name(True) == "__Host-yw_console"
    assert console_sessions.cookie_name(False) == "yw_console"
