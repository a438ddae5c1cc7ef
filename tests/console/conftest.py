"""Console fixtures: staff members made the way the service makes them (an SMS account, an ID number bound by
an ownership proof, an enrolled authenticator, a role granted to the number), and a console sign-in driven
over HTTP through our own /authorize, the SMS code, the authenticator code and the callback."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyotp
import pytest
from httpx import Response

from idp.oauth import totp
from idp.proofing import binding
from idp.records import people
from idp.settings import Settings
from idp.staff import roles
from tests.oauth import conftest as oauth_bench
from tests.oauth.conftest import Bench, form_value

bench = oauth_bench.bench  # the OIDC bench fixture, for the tests here

ADMIN = {"phone": "13700137001", "id_number": "110105198001010016", "name": "王芳"}
COUNTER = {"phone": "13700137002", "id_number": "110105198001010032", "name": "刘洋"}
AUDITOR = {"phone": "13700137003", "id_number": "440305199002020058", "name": "陈静"}
CITIZEN = {"phone": "13700137004", "id_number": "320102198511110041", "name": "赵磊"}
OTHER = {"phone": "13700137005", "id_number": "11010519700505007X", "name": "孙丽"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No background audit sealing: "changes nothing" is checked on a full dump of the database."""
    settings.audit_seal_interval_s = 0
    return settings


@dataclass
class Member:
    person_id: str
    phone: str
    id_number: str
    secret: str


def make_person(bench: Bench, who: dict[str, str], *, source: str | None = "carrier") -> str:
    with bench.rt.transaction() as session:
        person = people.register_by_phone(session, bench.rt.protector, "+86" + who["phone"], channel="web")
        session.flush()
        if source is not None:
            binding.prove(session, bench.rt.protector, person.id, id_number=who["id_number"], name=who["name"],
                          source=source, channel="web", deny_until=0)  # fmt: skip
        return person.id


def enrol_totp(bench: Bench, person_id: str) -> str:
    with bench.rt.transaction() as session:
        totp.start_enrolment(session, bench.rt.protector, person_id)
        shown = totp.pending(session, bench.rt.protector, person_id, "Yiwang", "x")
        assert shown is not None
        codes = totp.confirm_enrolment(session, bench.rt.protector, person_id, pyotp.TOTP(shown.secret).now(), 5)
        assert isinstance(codes, list)
        return shown.secret


def grant(bench: Bench, who: dict[str, str], role: str, hall: str | None = None) -> None:
    with bench.rt.transaction() as session:
        roles.grant(session, bench.rt.protector, id_number=who["id_number"], role=role, hall=hall,
                    halls={"city", "east"}, actor="test", channel="cli")  # fmt: skip


def make_staff(bench: Bench, who: dict[str, str], *grants: str, hall: str | None = None) -> Member:
    person_id = make_person(bench, who)
    secret = enrol_totp(bench, person_id)
    for role in grants:
        grant(bench, who, role, hall if role == "counter" else None)
    return Member(person_id, who["phone"], who["id_number"], secret)


def next_code(secret: str) -> str:
    """The authenticator's next code (one step ahead: the enrolment used the current one, and a code is
    accepted once, within one step of clock drift)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def sign_in(bench: Bench, member: Member) -> Response:
    """The console's sign-in, as a browser does it; returns the callback's response."""
    started = bench.client.post("/console/signin")
    assert started.status_code == 303 and started.headers["location"].startswith("/authorize?"), started.text
    login = bench.client.get(started.headers["location"])
    assert login.headers["location"].startswith("/login?flow="), login.headers["location"]
    after_sms = bench.sign_in(login.headers["location"], member.phone)
    location = after_sms.headers["location"]
    if location.startswith("/login/totp"):
        page = bench.client.get(location)
        after_sms = bench.client.post(
            "/login/totp",
            data={"flow": form_value(page.text, "flow"), "csrf": form_value(page.text, "csrf"),
                  "code": next_code(member.secret)},
        )  # fmt: skip
    response = after_sms
    while response.status_code in (302, 303) and not response.headers["location"].startswith(
        "http://127.0.0.1:8000/console/callback"
    ):
        response = bench.client.get(response.headers["location"])
    assert response.status_code in (302, 303), response.text
    return bench.client.get(response.headers["location"])


def csrf_of(html: str) -> str:
    return form_value(html, "csrf")


def second_browser(bench: Bench) -> Bench:
    """Another browser on the same app (its own cookies): the citizen at home while staff sit at the counter."""
    from fastapi.testclient import TestClient

    from tests.oauth.conftest import ISSUER

    client = TestClient(bench.client.app, base_url=ISSUER, follow_redirects=False)
    return Bench(client, bench.rt, bench.rp)


def signed_in(bench: Bench, who: dict[str, str], *grants: str, hall: str | None = None) -> Member:
    member = make_staff(bench, who, *grants, hall=hall)
    done = sign_in(bench, member)
    assert done.status_code == 303 and done.headers["location"] == "/console", done.text
    return member
