"""The console's second factor may be a passkey: staff at loa:2 who sign in with a user-verified passkey open the
console without an authenticator app; a passkey they hold but did not use does not count."""

from __future__ import annotations

import time

import time_machine
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from idp.audit.events import AuditEvent
from idp.staff.models import ConsoleSession
from tests.authn.test_passkey_sign_in import passkey_login, register_passkey
from tests.console.conftest import ADMIN, CITIZEN, Bench, Member, csrf_of, grant, make_person
from tests.kit.authenticator import Authenticator, b64
from tests.oauth.conftest import ISSUER


def _staff_with_passkey(bench: Bench) -> tuple[Member, Authenticator]:
    person_id = make_person(bench, ADMIN)  # ID number proven by the carrier: loa:2; no authenticator app
    grant(bench, ADMIN, "admin")
    bench.code_flow(phone=ADMIN["phone"])  # signed in by SMS, to reach the account page
    device = Authenticator("127.0.0.1", ISSUER)
    register_passkey(bench.client, device, "工作电脑")
    return Member(person_id, ADMIN["phone"], ADMIN["id_number"], ""), device


def _console_sign_in(client: TestClient, device: Authenticator) -> Response:
    started = client.post("/console/signin")
    login = client.get(started.headers["location"])
    response = passkey_login(client, login.headers["location"], device)
    while response.status_code in (302, 303) and "/console/callback" not in response.headers["location"]:
        response = client.get(response.headers["location"])
    return client.get(response.headers["location"])


def test_staff_sign_in_with_a_passkey_opens_the_console(bench: Bench) -> None:
    member, device = _staff_with_passkey(bench)
    console = TestClient(bench.client.app, base_url=ISSUER, follow_redirects=False)
    done = _console_sign_in(console, device)
    assert done.status_code == 303 and done.headers["location"] == "/console", done.text
    with bench.rt.transaction() as session:
        assert session.scalar(select(ConsoleSession.person_id)) == member.person_id


def test_sms_alone_is_no_second_factor_even_with_a_passkey_registered(bench: Bench) -> None:
    member, _ = _staff_with_passkey(bench)
    console = TestClient(bench.client.app, base_url=ISSUER, follow_redirects=False)
    started = console.post("/console/signin")
    login = console.get(started.headers["location"])
    response = Bench(console, bench.rt, bench.rp).sign_in(login.headers["location"], member.phone)
    while response.status_code in (302, 303) and "/console/callback" not in response.headers["location"]:
        response = console.get(response.headers["location"])
    done = console.get(response.headers["location"])
    assert done.status_code == 403
    with bench.rt.transaction() as session:
        assert session.scalar(select(ConsoleSession.person_id)) is None


def test_a_dangerous_action_can_be_confirmed_with_ones_own_passkey_only(bench: Bench) -> None:
    member, device = _staff_with_passkey(bench)
    make_person(bench, CITIZEN)
    citizen = Bench(TestClient(bench.client.app, base_url=ISSUER, follow_redirects=False), bench.rt, bench.rp)
    citizen.code_flow(phone=CITIZEN["phone"])
    theirs = Authenticator("127.0.0.1", ISSUER)
    register_passkey(citizen.client, theirs, "赵磊的手机")
    console = TestClient(bench.client.app, base_url=ISSUER, follow_redirects=False)
    assert _console_sign_in(console, device).status_code == 303
    form = {"id_number": CITIZEN["id_number"], "role": "auditor"}
    later = time.time() + bench.rt.settings.console_reauth_s + 60
    with time_machine.travel(later, tick=True):
        csrf = csrf_of(console.get("/console/staff").text)
        asked = console.post("/console/staff/grant", data={**form, "csrf": csrf})
        assert asked.status_code == 401 and 'id="passkey-confirm"' in asked.text
        # Another person's passkey (a citizen's, genuine and registered) confirms nothing.
        options = console.post("/console/reauth/passkey/options", data={"csrf": csrf}).json()
        assert [c["id"] for c in options["allowCredentials"]] == [b64(device.credential_id)]
        refused = console.post(
            "/console/reauth/passkey",
            data={"csrf": csrf, "back": "/console/staff", "credential": theirs.get(options)},
        )
        assert (
            refused.status_code == 400
            and console.post("/console/staff/grant", data={**form, "csrf": csrf}).status_code == 401
        )
        options = console.post("/console/reauth/passkey/options", data={"csrf": csrf}).json()
        confirmed = console.post(
            "/console/reauth/passkey", data={"csrf": csrf, "back": "/console/staff", "credential": device.get(options)}
        )
        assert confirmed.status_code == 303 and confirmed.headers["location"] == "/console/staff?reauth=done"
        assert console.post("/console/staff/grant", data={**form, "csrf": csrf}).status_code == 200
    with bench.rt.transaction() as session:
        reauths = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "console.reauth")))
    assert [(e.outcome, e.actor) for e in reauths] == [("refused", member.person_id), ("success", member.person_id)]
