"""The signatures log, the audit trail (verify, prove), provider health and the dashboard: only their roles
reach them; their POSTs need the CSRF token and are audited with the staff member as actor; the figures shown
are the events' own (masked where they are about a person)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from idp import audit
from idp.audit import AuditEvent, proofs, sequencer
from idp.db import utcnow
from idp.staff import activity
from signing.models import SignatureRecord
from tests.console.conftest import ADMIN, AUDITOR, CITIZEN, COUNTER, OTHER, Bench, csrf_of, make_person, signed_in
from tests.web.test_no_get_changes_state import changes, dump

# (method, path, roles allowed)
PAGES: list[tuple[str, str, tuple[str, ...]]] = [
    ("GET", "/console/signatures", ("admin", "seal_manager", "auditor")),
    ("GET", "/console/audit", ("admin", "auditor")),
    ("POST", "/console/audit/verify", ("admin", "auditor")),
    ("POST", "/console/audit/prove", ("admin", "auditor")),
    ("GET", "/console/health", ("admin", "auditor")),
    ("GET", "/console/dashboard", ("admin", "auditor")),
]
WHO = {"admin": ADMIN, "counter": COUNTER, "auditor": AUDITOR, "seal_manager": OTHER}


def _login_events(bench: Bench) -> None:
    """Three sign-ins (two by SMS at level 1, one by Alipay at level 2), two wrong codes, one lockout."""
    with bench.rt.transaction() as session:
        for amr, acr in (
            (["sms"], "urn:yiwang:loa:1"),
            (["sms"], "urn:yiwang:loa:1"),
            (["alipay"], "urn:yiwang:loa:2"),
        ):
            audit.record(session, audit.Event(action="login", subject="p", actor="p", channel="web",
                                              detail={"amr": amr, "acr": acr}))  # fmt: skip
        for reason in ("wrong_code", "wrong_code", "locked"):
            audit.record(session, audit.Event(action="login.sms", subject="137****0000", outcome="refused",
                                              channel="web", detail={"reason": reason}))  # fmt: skip


@pytest.mark.parametrize("role", ["counter", "seal_manager", "auditor"])
def test_each_page_refuses_the_roles_it_is_not_for_and_changes_nothing(bench: Bench, role: str) -> None:
    signed_in(bench, WHO[role], role)
    home = bench.client.get("/console")
    csrf = csrf_of(home.text)
    for method, path, allowed in PAGES:
        assert (f'href="{path}"' in home.text) == (method == "GET" and role in allowed), f"{role} link {path}"
    before = dump(bench)  # the refused requests first, all between two dumps: none may change anything
    for method, path, _ in [p for p in PAGES if role not in p[2]]:
        response = bench.client.get(path) if method == "GET" else bench.client.post(path, data={"csrf": csrf})
        assert response.status_code == 403, f"{role} {method} {path}: {response.status_code}"
    assert changes(before, dump(bench)) == {}, role
    for method, path, _ in [p for p in PAGES if role in p[2]]:
        response = bench.client.get(path) if method == "GET" else bench.client.post(path, data={"csrf": csrf})
        assert response.status_code != 403, f"{role} {method} {path}"


def test_verify_and_prove_need_the_csrf_token_and_are_audited_with_the_staff_member(bench: Bench) -> None:
    auditor = signed_in(bench, AUDITOR, "auditor")
    with bench.rt.transaction() as session:
        sequencer.seal(session, bench.rt.master, bench.rt.settings.issuer, wait=True)
        event_id = session.scalar(select(AuditEvent.id).where(AuditEvent.action == "console.sign_in"))
    assert event_id is not None
    before = dump(bench)
    assert bench.client.post("/console/audit/verify", data={}).status_code == 400
    assert bench.client.post("/console/audit/prove", data={"event_id": event_id, "csrf": "x"}).status_code == 400
    assert changes(before, dump(bench)) == {}

    page = bench.client.get("/console/audit?action=console")
    assert page.status_code == 200 and event_id in page.text
    csrf = csrf_of(page.text)
    verified = bench.client.post("/console/audit/verify", data={"csrf": csrf})
    assert verified.status_code == 200 and "审计日志完整" in verified.text
    proven = bench.client.post("/console/audit/prove", data={"csrf": csrf, "event_id": event_id})
    assert proven.status_code == 200 and "证明有效" in proven.text
    download = bench.client.post("/console/audit/prove", data={"csrf": csrf, "event_id": event_id, "download": "1"})
    assert download.headers["content-disposition"].startswith("attachment;")
    proof = json.loads(download.text)
    assert proof["event_id"] == event_id and proofs.check_inclusion(proof)
    unknown = bench.client.post("/console/audit/prove", data={"csrf": csrf, "event_id": "no-such-event"})
    assert unknown.status_code == 404

    with bench.rt.transaction() as session:
        done = list(session.scalars(select(AuditEvent).where(AuditEvent.action.startswith("console.audit_"))))
    assert sorted((e.action, e.outcome) for e in done) == [
        ("console.audit_prove", "refused"),
        ("console.audit_prove", "success"),
        ("console.audit_prove", "success"),
        ("console.audit_verify", "success"),
    ]
    assert {(e.actor, e.channel) for e in done} == {(auditor.person_id, "console")}


def test_the_audit_filters_narrow_the_events(bench: Bench) -> None:
    admin = signed_in(bench, ADMIN, "admin")
    _login_events(bench)

    def shown(**filters: str) -> list[str]:
        page = bench.client.get("/console/audit", params=filters).text
        return re.findall(r"</strong> · ([a-z_.]+) · <span", page)

    assert sorted(set(shown(action="login"))) == ["login", "login.sms"] and len(shown(action="login")) == 7
    assert shown(action="login", outcome="refused") == ["login.sms"] * 3
    mine = shown(actor=admin.person_id)
    assert "console.sign_in" in mine and "login.sms" not in mine
    assert shown(since=(utcnow() + timedelta(days=2)).date().isoformat()) == []


def test_the_dashboard_counts_the_events_it_charts(bench: Bench) -> None:
    signed_in(bench, ADMIN, "admin")
    with time_machine.travel(utcnow() - timedelta(hours=3), tick=True):
        _login_events(bench)  # three hours ago: in the window, in another bar
    _login_events(bench)
    with bench.rt.reading() as session:
        seen = activity.sign_ins(session, utcnow())
    # The console's own sign-in is a `login` too (SMS code and authenticator, loa:2): 3 + 3 + 1.
    assert sum(seen.logins) == 7 and sum(seen.failures) == 6 and sum(seen.lockouts) == 2
    assert seen.logins[-1] == 4 and seen.logins[-4] == 3 and seen.failures[-4] == 3
    assert dict(seen.methods) == {"sms": 4, "alipay": 2, "otp+sms": 1}
    page = bench.client.get("/console/dashboard").text
    assert re.search(r'id="total-logins">7<', page) and re.search(r'id="total-lockouts">2<', page)
    bars = [int(v) for v in re.findall(r'<rect [^>]*data-value="(\d+)"', page)]
    assert sum(bars[:24]) == 7 and sum(bars[24:48]) == 6  # sign-ins per hour, then failures per hour
    assert '<title id="chart' in page and "<desc id=" in page
    assert re.search(r"<th scope=\"row\">sms</th><td>4</td>", page)
    assert re.search(r"<th scope=\"row\">urn:yiwang:loa:1</th><td>4</td>", page)
    english = bench.client.get("/console/dashboard", params={"lang": "en"}).text
    assert "Sign-ins per hour" in english and "Lockouts" in english


def test_provider_health_shows_calls_errors_latency_and_breakers(bench: Bench) -> None:
    signed_in(bench, AUDITOR, "auditor")
    with bench.rt.transaction() as session:
        for outcome, ms, circuit in (("ok", 100, "closed"), ("ok", 300, "closed"), ("unavailable", 2000, "open")):
            audit.record(session, audit.Event(action="provider.verify", subject="unionpay", outcome=outcome,
                                              actor="yiwang", channel="provider",
                                              detail={"latency_ms": ms, "circuit": circuit,
                                                      "reason": "HTTP 503"}))  # fmt: skip
    page = bench.client.get("/console/health")
    assert page.status_code == 200
    card = page.text[page.text.index("<h2>unionpay</h2>") :].split("</li>")[0]
    assert "已熔断" in card and "<dd>3</dd>" in card and "1 (33.3%)" in card and "800.0 ms" in card
    assert "<h2>sandbox_sms</h2>" in page.text  # this node's breaker, though no call was made yet


def test_the_signatures_log_masks_the_signer(bench: Bench) -> None:
    person_id = make_person(bench, CITIZEN)
    with bench.rt.transaction() as session:
        for channel in ("api", "csc"):
            session.add(SignatureRecord(person_id=person_id, cert_serial="ab", requester="dept-a", channel=channel,
                                        document_kind="citizen", document_sha256="0" * 64, signed_sha256="1" * 64,
                                        level="B-LT"))  # fmt: skip
    signed_in(bench, OTHER, "seal_manager")
    page = bench.client.get("/console/signatures").text
    assert page.count("赵*") == 2 and CITIZEN["name"] not in page and CITIZEN["phone"] not in page
    assert person_id not in page
    assert bench.client.get("/console/signatures", params={"channel": "csc"}).text.count("赵*") == 1
