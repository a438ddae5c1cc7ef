"""`yiwang staff grant | revoke | list`: masked output, audited, bad input is one line and a non-zero exit."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from idp.audit import AuditEvent
from idp.cli.main import app
from idp.runtime import Runtime
from idp.staff.models import StaffRole
from tests.console.conftest import ADMIN, COUNTER, Bench, make_person


def test_grant_list_revoke(bench: Bench, rt: Runtime) -> None:
    cli = CliRunner()
    make_person(bench, ADMIN)
    granted = cli.invoke(app, ["staff", "grant", "--id-number", ADMIN["id_number"], "--role", "admin"])
    assert granted.exit_code == 0, granted.output
    assert ADMIN["id_number"] not in granted.stdout and "110***********0016" in granted.stdout
    hall = cli.invoke(
        app, ["staff", "grant", "--id-number", COUNTER["id_number"], "--role", "counter", "--hall", "east"]
    )
    assert hall.exit_code == 0, hall.output
    listed = cli.invoke(app, ["staff", "list"]).stdout
    assert "admin: 110***********0016 王*" in listed and "counter@east: -" in listed.replace(" @", "@")
    assert ADMIN["id_number"] not in listed and ADMIN["name"] not in listed
    revoked = cli.invoke(app, ["staff", "revoke", "--id-number", ADMIN["id_number"], "--role", "admin"])
    assert revoked.exit_code == 0
    with rt.transaction() as session:
        assert list(session.scalars(select(StaffRole.role))) == ["counter"]
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("staff.%"))))
        assert sorted(actions) == ["staff.grant", "staff.grant", "staff.revoke"]


def test_bad_input_is_one_line_and_changes_nothing(bench: Bench, rt: Runtime) -> None:
    cli = CliRunner()
    for args in (
        ["--id-number", ADMIN["id_number"], "--role", "root"],
        ["--id-number", "110105198001010017", "--role", "admin"],
        ["--id-number", ADMIN["id_number"], "--role", "admin", "--hall", "east"],
        ["--id-number", ADMIN["id_number"], "--role", "counter", "--hall", "moon"],
    ):
        result = cli.invoke(app, ["staff", "grant", *args])
        assert result.exit_code != 0 and len(result.stderr.strip().splitlines()) == 1, result.output
    assert cli.invoke(app, ["staff", "revoke", "--id-number", ADMIN["id_number"], "--role", "admin"]).exit_code == 1
    with rt.transaction() as session:
        assert session.scalar(select(StaffRole.id)) is None
