"""Seals in the console: a seal manager previews (nothing kept), creates, edits the policy and revokes (only
with a fresh second factor); every change audited with the staff member as actor; every refusal — wrong role,
missing CSRF token, stale second factor, unticked confirmation — changes nothing."""

from __future__ import annotations

import re
import time

import time_machine
from sqlalchemy import select

from idp.audit import AuditEvent
from idp.records import organisations
from signing.models import Seal
from tests.console.conftest import ADMIN, AUDITOR, COUNTER, OTHER, Bench, csrf_of, next_code, signed_in
from tests.web.test_no_get_changes_state import changes, dump

USCC = "91110000600037341L"
ORG = "一网测试科技有限公司"
NEW = {"uscc": USCC, "seal_type": "contract", "clients": "dept-a dept-b", "kinds": "contract", "daily_cap": "5"}


def _org(bench: Bench) -> None:
    with bench.rt.transaction() as session:
        organisations.add(session, bench.rt.protector, bench.rt.uscc_rules, uscc=USCC, name=ORG, kind="enterprise")


def _seal_ids(bench: Bench) -> list[str]:
    with bench.rt.transaction() as session:
        return list(session.scalars(select(Seal.id)))


def _events(bench: Bench, action: str) -> list[AuditEvent]:
    with bench.rt.transaction() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_seal_manager_previews_creates_edits_and_revokes_a_seal(bench: Bench) -> None:
    _org(bench)
    manager = signed_in(bench, OTHER, "seal_manager")
    page = bench.client.get("/console/seals")
    assert page.status_code == 200 and ORG in page.text
    csrf = csrf_of(page.text)

    before = dump(bench)
    preview = bench.client.post("/console/seals/preview", data={**NEW, "csrf": csrf})
    assert preview.status_code == 200 and 'src="data:image/png;base64,' in preview.text
    assert f"{ORG}合同专用章" in preview.text and 'value="dept-a dept-b"' in preview.text  # the form is kept
    assert changes(before, dump(bench)) == {}  # a preview keeps nothing

    created = bench.client.post("/console/seals/create", data={**NEW, "csrf": csrf})
    assert created.status_code == 303, created.text
    (seal_id,) = _seal_ids(bench)
    assert created.headers["location"] == f"/console/seals/{seal_id}?created=1"
    shown = bench.client.get(created.headers["location"])
    assert shown.status_code == 200 and "印章已创建" in shown.text and "0 / 5" in shown.text
    image = bench.client.get(f"/console/seals/{seal_id}/image.png")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert "Preview the seal" in bench.client.get("/console/seals", params={"lang": "en"}).text
    listed = bench.client.get("/console/seals")
    assert re.search(r"0 / 5", listed.text) and f"{ORG}合同专用章" in listed.text
    (made,) = _events(bench, "seal.create")
    assert made.actor == manager.person_id and made.channel == "console" and made.subject == seal_id

    saved = bench.client.post(
        f"/console/seals/{seal_id}/policy", data={"csrf": csrf, "clients": "dept-c", "kinds": "", "daily_cap": "9"}
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=1")
    with bench.rt.transaction() as session:
        policy = session.get(Seal, seal_id).policy  # type: ignore[union-attr]
    assert policy["clients"] == ["dept-c"] and policy["daily_cap"] == 9 and policy["document_kinds"] == []
    (edited,) = _events(bench, "seal.policy")
    assert edited.actor == manager.person_id and edited.channel == "console"

    before = dump(bench)
    bad_cap = bench.client.post(f"/console/seals/{seal_id}/policy", data={"csrf": csrf, "daily_cap": "0"})
    unticked = bench.client.post(f"/console/seals/{seal_id}/revoke", data={"csrf": csrf, "reason": "superseded"})
    assert bad_cap.status_code == 400 and unticked.status_code == 400
    assert "refused" not in {e.outcome for e in _events(bench, "seal.revoke")}  # nothing tried: not even audited
    after = dump(bench)
    assert set(changes(before, after)) <= {"audit_events", "audit_unsealed"}  # the refused policy, audited
    assert [e.outcome for e in _events(bench, "seal.policy")] == ["success", "refused"]

    revoked = bench.client.post(
        f"/console/seals/{seal_id}/revoke", data={"csrf": csrf, "reason": "superseded", "confirm": "yes"}
    )
    assert revoked.status_code == 303 and revoked.headers["location"].endswith("?revoked=1")
    with bench.rt.transaction() as session:
        assert session.get(Seal, seal_id).status == "revoked"  # type: ignore[union-attr]
    (gone,) = [e for e in _events(bench, "seal.revoke") if e.outcome == "success"]
    assert gone.actor == manager.person_id and gone.channel == "console" and gone.detail == {"reason": "superseded"}


def test_revoking_asks_again_for_the_second_factor_and_changes_nothing_until_then(bench: Bench) -> None:
    _org(bench)
    manager = signed_in(bench, OTHER, "seal_manager")
    csrf = csrf_of(bench.client.get("/console/seals").text)
    assert bench.client.post("/console/seals/create", data={**NEW, "csrf": csrf}).status_code == 303
    (seal_id,) = _seal_ids(bench)
    form = {"csrf": csrf, "reason": "key_compromise", "confirm": "yes"}
    settings = bench.client.app.state.settings  # type: ignore[attr-defined]
    with time_machine.travel(time.time() + settings.console_reauth_s + 60, tick=True):
        before = dump(bench)
        asked = bench.client.post(f"/console/seals/{seal_id}/revoke", data=form)
        assert asked.status_code == 401 and 'action="/console/reauth"' in asked.text
        assert changes(before, dump(bench)) == {}
        confirmed = bench.client.post(
            "/console/reauth", data={"csrf": csrf, "code": next_code(manager.secret), "back": "/console/seals"}
        )
        assert confirmed.headers["location"] == "/console/seals?reauth=done"
        assert bench.client.post(f"/console/seals/{seal_id}/revoke", data=form).status_code == 303
    with bench.rt.transaction() as session:
        assert session.get(Seal, seal_id).status == "revoked"  # type: ignore[union-attr]


def test_seal_posts_without_the_csrf_token_are_refused_and_change_nothing(bench: Bench) -> None:
    _org(bench)
    signed_in(bench, ADMIN, "admin")
    csrf = csrf_of(bench.client.get("/console/seals").text)
    assert bench.client.post("/console/seals/create", data={**NEW, "csrf": csrf}).status_code == 303
    (seal_id,) = _seal_ids(bench)
    before = dump(bench)
    for path, form in (
        ("/console/seals/create", NEW),
        (f"/console/seals/{seal_id}/policy", {"clients": "evil", "daily_cap": "1"}),
        (f"/console/seals/{seal_id}/revoke", {"reason": "superseded", "confirm": "yes"}),
    ):
        assert bench.client.post(path, data=form).status_code == 400, path
        assert bench.client.post(path, data={**form, "csrf": "forged"}).status_code == 400, path
    assert changes(before, dump(bench)) == {}


def test_roles_without_seal_work_see_no_seals_and_are_refused(bench: Bench) -> None:
    _org(bench)
    signed_in(bench, ADMIN, "admin")
    csrf = csrf_of(bench.client.get("/console/seals").text)
    assert bench.client.post("/console/seals/create", data={**NEW, "csrf": csrf}).status_code == 303
    (seal_id,) = _seal_ids(bench)
    for who, role in ((COUNTER, "counter"), (AUDITOR, "auditor")):
        bench.client.cookies.clear()
        signed_in(bench, who, role)
        home = bench.client.get("/console")
        assert "/console/seals" not in home.text  # no link to it, in the nav or on the home page
        csrf = csrf_of(home.text)
        before = dump(bench)
        for method, path, form in (
            ("GET", "/console/seals", {}),
            ("GET", f"/console/seals/{seal_id}", {}),
            ("GET", f"/console/seals/{seal_id}/image.png", {}),
            ("POST", "/console/seals/preview", NEW),
            ("POST", "/console/seals/create", NEW),
            ("POST", f"/console/seals/{seal_id}/policy", {"clients": "evil"}),
            ("POST", f"/console/seals/{seal_id}/revoke", {"reason": "superseded", "confirm": "yes"}),
        ):
            response = (
                bench.client.get(path) if method == "GET" else bench.client.post(path, data={**form, "csrf": csrf})
            )
            assert response.status_code == 403, f"{role} {method} {path}: {response.status_code}"
        assert changes(before, dump(bench)) == {}, role
    with bench.rt.transaction() as session:
        assert session.get(Seal, seal_id).status == "active"  # type: ignore[union-attr]
