"""The persons page (find by the blind index, masked, level history, unlock) and /docs for staff only."""

from __future__ import annotations

from sqlalchemy import select

from idp.audit import AuditEvent
from idp.oauth import otp
from idp.oauth.models import Lockout
from idp.records import people
from tests.console.conftest import ADMIN, CITIZEN, COUNTER, Bench, csrf_of, make_person, signed_in


def _locked_citizen(bench: Bench) -> str:
    person_id = make_person(bench, CITIZEN)
    with bench.rt.transaction() as session:
        bidx = people.get(session, person_id).phone_bidx
        assert bidx is not None
        for _ in range(5):
            otp.record_failure(session, otp.phone_subject(bidx, "a-device"), 5)
    return person_id


def test_admin_finds_a_person_by_id_number_or_phone_and_sees_only_masked_data(bench: Bench) -> None:
    person_id = _locked_citizen(bench)
    signed_in(bench, ADMIN, "admin")
    csrf = csrf_of(bench.client.get("/console/persons").text)
    for query in (CITIZEN["id_number"], CITIZEN["phone"], "+86" + CITIZEN["phone"]):
        found = bench.client.post("/console/persons/find", data={"csrf": csrf, "query": query})
        assert found.status_code == 303 and found.headers["location"] == f"/console/persons/{person_id}"
    page = bench.client.get(f"/console/persons/{person_id}")
    assert page.status_code == 200
    assert (
        CITIZEN["id_number"] not in page.text and CITIZEN["phone"] not in page.text and CITIZEN["name"] not in page.text
    )
    assert "320***********0041" in page.text and "赵*" in page.text and "proofing.raise" in page.text
    assert "锁定至" in page.text
    missing = bench.client.post("/console/persons/find", data={"csrf": csrf, "query": "13900000000"})
    assert missing.status_code == 404


def test_admin_unlocks_a_lockout_and_it_is_audited(bench: Bench) -> None:
    person_id = _locked_citizen(bench)
    admin = signed_in(bench, ADMIN, "admin")
    csrf = csrf_of(bench.client.get(f"/console/persons/{person_id}").text)
    done = bench.client.post(f"/console/persons/{person_id}/unlock", data={"csrf": csrf})
    assert done.status_code == 303
    assert "已解除锁定" in bench.client.get(done.headers["location"]).text
    with bench.rt.transaction() as session:
        assert session.scalar(select(Lockout.locked_until)) is None
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "person.unlock"))
        assert event is not None and event.actor == admin.person_id and event.subject == person_id


def test_counter_staff_read_persons_but_cannot_unlock(bench: Bench) -> None:
    person_id = _locked_citizen(bench)
    signed_in(bench, COUNTER, "counter")
    page = bench.client.get(f"/console/persons/{person_id}")
    assert page.status_code == 200 and "/unlock" not in page.text
    refused = bench.client.post(f"/console/persons/{person_id}/unlock", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 403
    with bench.rt.transaction() as session:
        assert session.scalar(select(Lockout.locked_until)) is not None


def test_docs_and_openapi_are_for_signed_in_staff_only(bench: Bench) -> None:
    for path in ("/docs", "/openapi.json"):
        signed_out = bench.client.get(path)
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/console"
    assert bench.client.get("/admin/docs").status_code == 404  # the old public Swagger UI (from a CDN) is gone
    signed_in(bench, COUNTER, "counter")
    docs = bench.client.get("/docs")
    assert docs.status_code == 200 and "/admin/v1/clients" in docs.text and "/signing/v1/verify" in docs.text
    assert "cdn" not in docs.text.lower()
    schema = bench.client.get("/openapi.json").json()
    assert all(p.startswith(("/admin/", "/signing/", "/csc/", "/audit/")) for p in schema["paths"])
    assert "/csc/v2/info" in schema["paths"]
