"""Console sign-in through our own provider: loa:2 with the authenticator, staff only, its own session."""

from __future__ import annotations

from sqlalchemy import select

from idp.staff.models import ConsoleSession
from tests.console.conftest import ADMIN, CITIZEN, Bench, make_person, make_staff, sign_in


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
