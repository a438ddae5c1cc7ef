"""Each role sees and does only its own work; the server enforces it. A refused request changes nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from idp.oauth import otp
from idp.oauth.models import Lockout
from idp.records import people
from idp.staff.models import StaffRole
from tests.console.conftest import ADMIN, AUDITOR, CITIZEN, COUNTER, Bench, csrf_of, make_person, next_code, signed_in
from tests.web.test_no_get_changes_state import changes, dump

# (method, path, roles allowed); {person} is a real person's id.
PAGES: list[tuple[str, str, tuple[str, ...]]] = [
    ("GET", "/console/counter", ("counter",)),
    ("POST", "/console/counter/lookup", ("counter",)),
    ("POST", "/console/counter/check", ("counter",)),
    ("GET", "/console/persons", ("admin", "counter")),
    ("POST", "/console/persons/find", ("admin", "counter")),
    ("GET", "/console/persons/{person}", ("admin", "counter")),
    ("POST", "/console/persons/{person}/unlock", ("admin",)),
    ("GET", "/console/staff", ("admin",)),
    ("POST", "/console/staff/grant", ("admin",)),
    ("POST", "/console/staff/revoke", ("admin",)),
    ("GET", "/docs", ("admin", "client_manager", "seal_manager", "counter", "auditor")),
    ("GET", "/openapi.json", ("admin", "client_manager", "seal_manager", "counter", "auditor")),
]
FORMS: dict[str, dict[str, str]] = {
    "/console/counter/lookup": {"code": "12345678", "name": "赵磊", "id_number": CITIZEN["id_number"], "hall": "city"},
    "/console/counter/check": {"sealed": "x", "confirm": "yes"},
    "/console/persons/find": {"query": CITIZEN["phone"]},
    "/console/staff/grant": {"id_number": CITIZEN["id_number"], "role": "admin"},
    "/console/staff/revoke": {"grant_id": "x"},
}
WHO = {"admin": ADMIN, "counter": COUNTER, "auditor": AUDITOR}


def _lock_citizen(bench: Bench) -> str:
    person_id = make_person(bench, CITIZEN)
    with bench.rt.transaction() as session:
        person = people.get(session, person_id)
        assert person.phone_bidx is not None
        for _ in range(5):
            otp.record_failure(session, otp.phone_subject(person.phone_bidx, "a-device"), 5)
    return person_id


def _request(bench: Bench, method: str, path: str, csrf: str) -> Any:
    if method == "GET":
        return bench.client.get(path)
    return bench.client.post(
        path,
        data={"csrf": csrf, **FORMS.get(path.rsplit("/", 1)[0] + "/" + path.rsplit("/", 1)[1], FORMS.get(path, {}))},
    )


@pytest.mark.parametrize("role", ["admin", "counter", "auditor"])
def test_every_page_refuses_the_roles_it_is_not_for_and_changes_nothing(bench: Bench, role: str) -> None:
    person_id = _lock_citizen(bench)
    signed_in(bench, WHO[role], role)
    csrf = csrf_of(bench.client.get("/console").text)
    for method, template, allowed in PAGES:
        path = template.format(person=person_id)
        before = dump(bench)
        response = _request(bench, method, path, csrf)
        after = dump(bench)
        if role in allowed:
            assert response.status_code != 403, f"{role} {method} {path}"
            continue
        assert response.status_code == 403, f"{role} {method} {path}: {response.status_code}"
        assert changes(before, after) == {}, f"{role} {method} {path} changed {changes(before, after)}"
    with bench.rt.transaction() as session:  # only the admin unlocked the citizen
        lock = session.get(Lockout, otp.phone_subject(people.get(session, person_id).phone_bidx or "", "a-device"))
        assert lock is not None and (lock.locked_until is None) == (role == "admin")


def test_signed_out_requests_reach_no_page(bench: Bench) -> None:
    for method, template, _ in PAGES:
        path = template.format(person="x")
        response = bench.client.get(path) if method == "GET" else bench.client.post(path, data=FORMS.get(path, {}))
        if method == "GET":
            assert response.status_code == 303 and response.headers["location"] == "/console", path
        else:
            assert response.status_code == 401, path


@pytest.mark.parametrize(
    "path,form",
    [
        ("/console/persons/find", {"query": CITIZEN["phone"]}),
        ("/console/staff/grant", {"id_number": CITIZEN["id_number"], "role": "auditor"}),
        ("/console/counter/lookup", FORMS["/console/counter/lookup"]),
    ],
)
def test_a_console_post_without_its_csrf_token_is_refused(bench: Bench, path: str, form: dict[str, str]) -> None:
    signed_in(bench, ADMIN, "admin", "counter")
    before = dump(bench)
    missing = bench.client.post(path, data=form)
    wrong = bench.client.post(path, data={**form, "csrf": "not-the-token"})
    assert missing.status_code == 400 and wrong.status_code == 400
    assert changes(before, dump(bench)) == {}


def test_unlock_without_csrf_leaves_the_lockout(bench: Bench) -> None:
    person_id = _lock_citizen(bench)
    signed_in(bench, ADMIN, "admin")
    assert bench.client.post(f"/console/persons/{person_id}/unlock", data={}).status_code == 400
    with bench.rt.transaction() as session:
        assert session.scalar(select(Lockout.locked_until)) is not None


def test_granting_a_role_asks_again_for_the_second_factor(bench: Bench) -> None:
    admin = signed_in(bench, ADMIN, "admin")
    make_person(bench, CITIZEN)
    form = {"id_number": CITIZEN["id_number"], "role": "auditor"}
    settings = bench.client.app.state.settings  # type: ignore[attr-defined]
    later = time.time() + settings.console_reauth_s + 60
    with time_machine.travel(later, tick=True):
        csrf = csrf_of(bench.client.get("/console/staff").text)
        before = dump(bench)
        asked = bench.client.post("/console/staff/grant", data={**form, "csrf": csrf})
        assert asked.status_code == 401 and 'action="/console/reauth"' in asked.text
        assert changes(before, dump(bench)) == {}
        wrong = bench.client.post("/console/reauth", data={"csrf": csrf, "code": "000000", "back": "/console/staff"})
        assert wrong.status_code == 400
        confirmed = bench.client.post(
            "/console/reauth", data={"csrf": csrf, "code": next_code(admin.secret), "back": "/console/staff"}
        )
        assert confirmed.status_code == 303 and confirmed.headers["location"] == "/console/staff?reauth=done"
        granted = bench.client.post("/console/staff/grant", data={**form, "csrf": csrf})
        assert granted.status_code == 200 and "已授予" in granted.text
    with bench.rt.transaction() as session:
        assert sorted(session.scalars(select(StaffRole.role))) == ["admin", "auditor"]
        from idp.audit import AuditEvent

        grant_event = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "staff.grant", AuditEvent.actor == admin.person_id)
        )
        assert grant_event is not None and grant_event.channel == "console"


def test_the_reauth_page_only_sends_back_into_the_console(bench: Bench) -> None:
    admin = signed_in(bench, ADMIN, "admin")
    csrf = csrf_of(bench.client.get("/console/staff").text)
    with time_machine.travel(time.time() + 61, tick=True):  # the sign-in's code is spent: a later one
        out = bench.client.post(
            "/console/reauth", data={"csrf": csrf, "code": next_code(admin.secret), "back": "//evil.example/"}
        )
    assert out.status_code == 303 and out.headers["location"].startswith("/console?")
