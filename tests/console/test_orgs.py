"""Organisations in the console (admin only): register, find by USCC, members and their roles, masked; each
action audited with the staff member; a refused request (role, CSRF, bad input) changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from idp.audit import AuditEvent
from idp.records import people
from idp.records.models import Membership, Organisation
from tests.console.conftest import (
    ADMIN,
    AUDITOR,
    CITIZEN,
    COUNTER,
    Bench,
    csrf_of,
    make_person,
    second_browser,
    signed_in,
)
from tests.web.test_no_get_changes_state import changes, dump

USCC = "91350100M000100Y43"
ORG = {"uscc": USCC, "name": "福州市某某科技有限公司", "kind": "enterprise"}
CLIENT_MANAGER = {"phone": "13700137006", "id_number": "110105198203030015", "name": "周强"}


def _without_audit(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in changes(before, after).items() if not k.startswith("audit")}


def _event(bench: Bench, action: str, outcome: str = "success") -> AuditEvent:
    with bench.rt.reading() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == action, AuditEvent.outcome == outcome))
        return event


def test_an_admin_registers_an_organisation_finds_it_and_adds_a_member(bench: Bench) -> None:
    citizen = make_person(bench, CITIZEN)
    with bench.rt.transaction() as session:
        people.bind_ss_card(session, bench.rt.protector, citizen, "A12345678", actor="test")
    admin = signed_in(bench, ADMIN, "admin")
    listing = bench.client.get("/console/orgs")
    assert listing.status_code == 200 and "尚未登记任何组织" in listing.text
    csrf = csrf_of(listing.text)

    before = dump(bench)
    for path in ("/console/orgs/new", f"/console/orgs/{USCC}/members"):  # no CSRF token: refused, unchanged
        assert bench.client.post(path, data={**ORG, "id_number": CITIZEN["id_number"]}).status_code == 400
    bad = bench.client.post("/console/orgs/new", data={"csrf": csrf, **ORG, "uscc": "91350100M000100Y4Z"})
    assert bad.status_code == 400 and "未保存" in bad.text and ORG["name"] in bad.text  # typed values kept
    assert _without_audit(before, dump(bench)) == {}
    assert _event(bench, "org.add", "refused").actor == admin.person_id

    made = bench.client.post("/console/orgs/new", data={"csrf": csrf, **ORG})
    assert made.status_code == 200 and "组织已登记" in made.text and USCC in made.text
    assert _event(bench, "org.add").actor == admin.person_id
    found = bench.client.get("/console/orgs/find", params={"uscc": USCC.lower()})
    assert found.status_code == 200 and ORG["name"] in found.text
    assert bench.client.get("/console/orgs/find", params={"uscc": "91350100M000100Y4Z"}).status_code == 404
    assert bench.client.get("/console/orgs/find", params={"uscc": " "}).status_code == 200  # empty: the list

    added = bench.client.post(
        f"/console/orgs/{USCC}/members", data={"csrf": csrf, "id_number": CITIZEN["id_number"], "role": "seal_keeper"}
    )
    assert added.status_code == 200 and "成员已添加" in added.text and "印章保管人" in added.text
    assert "赵*" in added.text and CITIZEN["name"] not in added.text and CITIZEN["id_number"] not in added.text
    event = _event(bench, "org.member_add")
    assert event.actor == admin.person_id and event.channel == "console" and event.detail["person"] == citizen
    with bench.rt.reading() as session:
        assert session.scalar(select(Membership.role)) == "seal_keeper"

    person = bench.client.get(f"/console/persons/{citizen}")  # a member links to the person, masked
    assert "A12**5678" in person.text and "A12345678" not in person.text and CITIZEN["id_number"] not in person.text


PAGES = [
    ("GET", "/console/orgs"),
    ("GET", "/console/orgs/find?uscc=" + USCC),
    ("GET", f"/console/orgs/{USCC}"),
    ("POST", "/console/orgs/new"),
    ("POST", f"/console/orgs/{USCC}/members"),
]


def test_other_roles_are_refused_every_organisation_page_and_change_nothing(bench: Bench) -> None:
    make_person(bench, CITIZEN)
    with bench.rt.transaction() as session:
        session.add(Organisation(uscc=USCC, name=ORG["name"], kind="enterprise"))
    for who, role in ((CLIENT_MANAGER, "client_manager"), (COUNTER, "counter"), (AUDITOR, "auditor")):
        browser = second_browser(bench)
        signed_in(browser, who, role)
        home = browser.client.get("/console")
        assert "/console/orgs" not in home.text
        form = {"csrf": csrf_of(home.text), **ORG, "uscc": "91350100M000100Y43", "id_number": CITIZEN["id_number"]}
        before = dump(bench)
        for method, path in PAGES:
            response = browser.client.get(path) if method == "GET" else browser.client.post(path, data=form)
            assert response.status_code == 403, f"{role} {method} {path}"
        assert changes(before, dump(bench)) == {}, role
