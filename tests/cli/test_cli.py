"""The `yiwang` command line, driven in-process with Typer's CliRunner against a real database.

The `settings` fixture exports YIWANG_DATA_DIR / YIWANG_DATABASE_URL, so every command run here (each of which
reads `Settings()` afresh) sees the same database as the test. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner, Result

from idp.audit import AuditEvent
from idp.cli.main import app
from idp.db import make_engine
from idp.records.models import Membership, Organisation, Person
from idp.settings import Settings

ID_NUMBER = "11010519491231002X"  # valid: Beijing Chaoyang, 1949-12-31, female
OTHER_ID_NUMBER = "110105198001010016"  # valid, not registered unless a test does so
BAD_CHECK_ID_NUMBER = "110105194912310021"  # ID_NUMBER with a wrong check character
LEGACY_ID_NUMBER = "110105491231002"  # 15-digit form of ID_NUMBER
USCC = "91110000600037341L"
PHONE = "13800138000"
NAME = "张三"

SUB_GROUPS = ("id", "person", "org", "keys", "audit", "operator", "db")


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def invoke(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(app, list(args))


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def refused(result: Result) -> str:
    """Exit 1, nothing on stdout, exactly one line on stderr starting `error:`; returns that line."""
    assert result.exit_code == 1, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    # A refusal is a handled outcome: no traceback, no uncaught exception.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.db_url)
    try:
        yield eng
    finally:
        eng.dispose()


def count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def initialised(cli: CliRunner, settings: Settings) -> Settings:
    result = ok(invoke(cli, "init"))
    assert "database schema" in result.stdout
    assert (settings.data_dir / "keys" / "master.key").exists()
    return settings


@pytest.fixture
def person(cli: CliRunner, initialised: Settings) -> dict:
    result = ok(invoke(cli, "person", "add", "--id-number", ID_NUMBER, "--name", NAME, "--phone", PHONE, "--json"))
    return json.loads(result.stdout)


# --- help ------------------------------------------------------------------------------------------


def test_top_level_help_lists_every_group(cli: CliRunner) -> None:
    result = ok(invoke(cli, "--help"))
    for group in (*SUB_GROUPS, "init", "serve"):
        assert group in result.stdout


@pytest.mark.parametrize("group", SUB_GROUPS)
def test_sub_command_group_help(cli: CliRunner, group: str) -> None:
    result = ok(invoke(cli, group, "--help"))
    assert "Usage" in result.stdout
    assert group in result.stdout


def test_init_is_idempotent(cli: CliRunner, initialised: Settings) -> None:
    result = ok(invoke(cli, "init"))
    assert "nothing (already initialised)" in result.stdout


# --- id check (no database needed) -----------------------------------------------------------------


def test_id_check_citizen_id_is_parsed_and_masked(cli: CliRunner, settings: Settings) -> None:
    result = ok(invoke(cli, "id", "check", ID_NUMBER))
    out = result.stdout
    assert "kind: citizen_id" in out
    assert "region: 110105" in out
    assert "birth_date: 1949-12-31" in out
    assert "sex: female" in out
    assert ID_NUMBER not in out
    assert "value: 110***********002X" in out


def test_id_check_legacy_number_reports_conversion(cli: CliRunner, settings: Settings) -> None:
    result = ok(invoke(cli, "id", "check", LEGACY_ID_NUMBER))
    assert "kind: citizen_id" in result.stdout
    assert "converted_from: legacy 15-digit number" in result.stdout
    assert LEGACY_ID_NUMBER not in result.stdout
    assert ID_NUMBER not in result.stdout


def test_id_check_uscc_is_shown_in_clear(cli: CliRunner, settings: Settings) -> None:
    result = ok(invoke(cli, "id", "check", USCC))
    assert "kind: uscc" in result.stdout
    assert USCC in result.stdout  # public registry data


def test_id_check_invalid_uscc_is_one_error_line(cli: CliRunner, settings: Settings) -> None:
    line = refused(invoke(cli, "id", "check", "91350100M000100Y4Z"))
    assert "uscc" in line


def test_id_check_mobile_is_masked(cli: CliRunner, settings: Settings) -> None:
    result = ok(invoke(cli, "id", "check", PHONE))
    assert "kind: mobile" in result.stdout
    assert PHONE not in result.stdout
    assert "138****8000" in result.stdout


def test_id_check_json(cli: CliRunner, settings: Settings) -> None:
    data = json.loads(ok(invoke(cli, "id", "check", ID_NUMBER, "--json")).stdout)
    assert data["kind"] == "citizen_id"
    assert data["birth_date"] == "1949-12-31"
    assert data["sex"] == "female"
    assert data["value"] == "110***********002X"
    assert ID_NUMBER not in json.dumps(data)


def test_id_check_unknown_kind_is_usage_error(cli: CliRunner, settings: Settings) -> None:
    result = invoke(cli, "id", "check", ID_NUMBER, "--kind", "passport")
    assert result.exit_code == 2
    assert result.stderr.startswith("error:")


# --- person ----------------------------------------------------------------------------------------


def test_person_add_prints_only_masked_values(cli: CliRunner, initialised: Settings, engine: Engine) -> None:
    result = ok(invoke(cli, "person", "add", "--id-number", ID_NUMBER, "--name", NAME, "--phone", PHONE))
    out = result.stdout
    assert ID_NUMBER not in out and PHONE not in out and NAME not in out
    assert "id_number: 110***********002X" in out
    assert "name: 张*" in out
    assert "138****8000" in out
    assert count(engine, Person) == 1


def test_person_show_and_json(cli: CliRunner, person: dict) -> None:
    out = ok(invoke(cli, "person", "show", "--id-number", ID_NUMBER)).stdout
    assert f"id: {person['id']}" in out
    assert ID_NUMBER not in out and NAME not in out and PHONE not in out
    data = json.loads(ok(invoke(cli, "person", "show", "--id-number", ID_NUMBER, "--json")).stdout)
    assert data["id"] == person["id"]
    assert data["id_number"] == "110***********002X"
    assert data["name"] == "张*"
    assert data["phone"].endswith("138****8000")
    assert data["id_type"] == "resident_id"


def test_person_show_by_legacy_number_finds_the_same_person(cli: CliRunner, person: dict) -> None:
    data = json.loads(ok(invoke(cli, "person", "show", "--id-number", LEGACY_ID_NUMBER, "--json")).stdout)
    assert data["id"] == person["id"]


def test_person_add_duplicate_is_refused(cli: CliRunner, person: dict, engine: Engine) -> None:
    before = count(engine, Person)
    line = refused(invoke(cli, "person", "add", "--id-number", ID_NUMBER, "--name", "李四"))
    assert "already exists" in line
    assert ID_NUMBER not in line
    assert count(engine, Person) == before == 1
    # The refusal itself is on the audit trail.
    with engine.connect() as conn:
        outcomes = (
            conn.execute(select(AuditEvent.outcome).where(AuditEvent.action == "person.add").order_by(AuditEvent.at))
            .scalars()
            .all()
        )
    assert outcomes == ["success", "refused"]


def test_person_add_phone_bound_to_another_is_refused(cli: CliRunner, person: dict, engine: Engine) -> None:
    line = refused(invoke(cli, "person", "add", "--id-number", OTHER_ID_NUMBER, "--name", "李四", "--phone", PHONE))
    assert PHONE not in line
    assert count(engine, Person) == 1


def test_person_add_invalid_id_number_writes_nothing(cli: CliRunner, initialised: Settings, engine: Engine) -> None:
    line = refused(invoke(cli, "person", "add", "--id-number", BAD_CHECK_ID_NUMBER, "--name", NAME))
    assert BAD_CHECK_ID_NUMBER not in line
    # The reason is the one for the kind the number looks like (a resident ID), not another kind's.
    assert "check character" in line
    assert count(engine, Person) == 0


def test_person_show_unknown_is_refused(cli: CliRunner, person: dict) -> None:
    line = refused(invoke(cli, "person", "show", "--id-number", OTHER_ID_NUMBER))
    assert OTHER_ID_NUMBER not in line


# --- organisations ---------------------------------------------------------------------------------


def test_org_add_json_and_show(cli: CliRunner, initialised: Settings, engine: Engine) -> None:
    result = ok(
        invoke(cli, "org", "add", "--uscc", USCC, "--name", "示例科技有限公司", "--kind", "enterprise", "--json")
    )
    data = json.loads(result.stdout)
    assert data["uscc"] == USCC
    assert data["id"]
    assert data["kind"] == "enterprise"
    assert data["members"] == []
    out = ok(invoke(cli, "org", "show", "--uscc", USCC)).stdout
    assert f"uscc: {USCC}" in out
    assert "name: 示例科技有限公司" in out
    assert f"id: {data['id']}" in out
    shown = json.loads(ok(invoke(cli, "org", "show", "--uscc", USCC.lower(), "--json")).stdout)
    assert shown["id"] == data["id"]
    assert count(engine, Organisation) == 1


def test_org_add_duplicate_and_bad_kind_are_refused(cli: CliRunner, initialised: Settings, engine: Engine) -> None:
    ok(invoke(cli, "org", "add", "--uscc", USCC, "--name", "示例科技有限公司", "--kind", "enterprise"))
    line = refused(invoke(cli, "org", "add", "--uscc", USCC, "--name", "另一个公司", "--kind", "enterprise"))
    assert "already exists" in line
    line = refused(invoke(cli, "org", "add", "--uscc", USCC, "--name", "X", "--kind", "bogus"))
    assert "kind" in line
    assert count(engine, Organisation) == 1


def test_org_show_unknown_is_refused(cli: CliRunner, initialised: Settings) -> None:
    line = refused(invoke(cli, "org", "show", "--uscc", USCC))
    assert "no organisation" in line


def test_org_add_member_lists_masked_member(cli: CliRunner, person: dict, engine: Engine) -> None:
    ok(invoke(cli, "org", "add", "--uscc", USCC, "--name", "示例科技有限公司", "--kind", "enterprise"))
    ok(invoke(cli, "org", "add-member", "--uscc", USCC, "--id-number", ID_NUMBER, "--role", "seal_keeper"))
    out = ok(invoke(cli, "org", "show", "--uscc", USCC)).stdout
    assert f"member: 张* (seal_keeper) {person['id']}" in out
    assert NAME not in out and ID_NUMBER not in out
    data = json.loads(ok(invoke(cli, "org", "show", "--uscc", USCC, "--json")).stdout)
    assert data["members"] == [{"person": person["id"], "name": "张*", "role": "seal_keeper"}]
    # The same role twice, an unknown role, an unknown person: refused, nothing added.
    refused(invoke(cli, "org", "add-member", "--uscc", USCC, "--id-number", ID_NUMBER, "--role", "seal_keeper"))
    refused(invoke(cli, "org", "add-member", "--uscc", USCC, "--id-number", ID_NUMBER, "--role", "emperor"))
    refused(invoke(cli, "org", "add-member", "--uscc", USCC, "--id-number", OTHER_ID_NUMBER, "--role", "signer"))
    assert count(engine, Membership) == 1


# --- audit -----------------------------------------------------------------------------------------


def _populate(cli: CliRunner) -> None:
    ok(invoke(cli, "person", "add", "--id-number", ID_NUMBER, "--name", NAME))
    ok(invoke(cli, "org", "add", "--uscc", USCC, "--name", "示例科技有限公司", "--kind", "enterprise"))
    ok(invoke(cli, "org", "add-member", "--uscc", USCC, "--id-number", ID_NUMBER, "--role", "signer"))


def _tamper(initialised: Settings, sql: str, **params: object) -> None:
    from idp.runtime import open_runtime
    from tests.audit.conftest import tamper

    rt = open_runtime(initialised)
    try:
        tamper(rt, sql, **params)
    finally:
        rt.close()


def _first_leaf_event(engine: Engine, idx: int) -> str:
    from idp.audit import AuditLeaf

    with engine.connect() as conn:
        return str(conn.execute(select(AuditLeaf.event_id).where(AuditLeaf.idx == idx)).scalar_one())


def test_audit_seal_and_verify_intact(cli: CliRunner, initialised: Settings, engine: Engine) -> None:
    _populate(cli)
    total = count(engine, AuditEvent)
    assert total >= 4
    assert f"sealed {total} events: tree head {total} " in ok(invoke(cli, "audit", "seal")).stdout
    assert ok(invoke(cli, "audit", "seal")).stdout.strip() == "nothing to seal"
    out = ok(invoke(cli, "audit", "verify")).stdout
    assert f"audit log intact: {total} events under 1 signed tree heads" in out


def test_audit_events_refuse_update_while_guarded(cli: CliRunner, initialised: Settings, engine: Engine) -> None:
    _populate(cli)
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET subject = 'x'"))
    ok(invoke(cli, "audit", "seal"))
    ok(invoke(cli, "audit", "verify"))


def test_audit_verify_names_altered_event(cli: CliRunner, initialised: Settings, engine: Engine) -> None:
    _populate(cli)
    ok(invoke(cli, "audit", "seal"))
    event = _first_leaf_event(engine, 2)
    _tamper(initialised, "UPDATE audit_events SET subject = 'tampered' WHERE id = :id", id=event)
    line = refused(invoke(cli, "audit", "verify"))
    assert f"event {event} (leaf 2) was altered" in line


def test_audit_verify_names_removed_event(cli: CliRunner, initialised: Settings, engine: Engine) -> None:
    _populate(cli)
    ok(invoke(cli, "audit", "seal"))
    event = _first_leaf_event(engine, 1)
    _tamper(initialised, "DELETE FROM audit_events WHERE id = :id", id=event)
    line = refused(invoke(cli, "audit", "verify"))
    assert f"event {event} (leaf 1) is missing" in line


def test_audit_prove_and_consistency(cli: CliRunner, initialised: Settings, engine: Engine) -> None:
    from idp.audit import proofs

    _populate(cli)
    ok(invoke(cli, "audit", "seal"))
    first = count(engine, AuditEvent)
    ok(invoke(cli, "person", "add", "--id-number", OTHER_ID_NUMBER, "--name", NAME))
    ok(invoke(cli, "audit", "seal"))
    event = _first_leaf_event(engine, 0)
    proof = json.loads(ok(invoke(cli, "audit", "prove", event)).stdout)
    assert proof["event"]["id"] == event and proofs.check_inclusion(proof)
    old = json.loads(ok(invoke(cli, "audit", "prove", event, "--tree-size", str(first))).stdout)
    assert old["tree_size"] == first and proofs.check_inclusion(old)
    consistency = json.loads(ok(invoke(cli, "audit", "consistency", str(first))).stdout)
    assert consistency["first"]["tree_size"] == first and proofs.check_consistency(consistency)
    assert "no event nope" in refused(invoke(cli, "audit", "prove", "nope"))
    assert "no tree head of size 999" in refused(invoke(cli, "audit", "consistency", "999"))


def test_audit_tail(cli: CliRunner, initialised: Settings, engine: Engine) -> None:
    _populate(cli)
    total = count(engine, AuditEvent)
    lines = ok(invoke(cli, "audit", "tail", "-n", "2")).stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[1] == lines[1].split()[1] == "-"  # not sealed yet
    assert "org.member_add" in lines[1]
    ok(invoke(cli, "audit", "seal"))
    rows = [json.loads(line) for line in ok(invoke(cli, "audit", "tail", "-n", "3", "--json")).stdout.splitlines()]
    assert [r["leaf_index"] for r in rows] == [total - 3, total - 2, total - 1]
    assert ID_NUMBER not in json.dumps(rows, ensure_ascii=False)


# --- keys ------------------------------------------------------------------------------------------


def _keys(cli: CliRunner) -> list[dict]:
    return [json.loads(line) for line in ok(invoke(cli, "keys", "list", "--json")).stdout.splitlines()]


def test_keys_list(cli: CliRunner, initialised: Settings) -> None:
    out = ok(invoke(cli, "keys", "list")).stdout
    assert "data" in out and "signing" in out and "ES256" in out
    keys = _keys(cli)
    data = [k for k in keys if k["kind"] == "data"]
    signing = [k for k in keys if k["kind"] == "signing"]
    assert {k["purpose"] for k in data} == {"field", "index"}
    assert all(k["status"] == "active" for k in data)
    assert [(k["purpose"], k["status"]) for k in signing] == [("ES256", "active")]


def test_keys_rotate_keeps_data_readable(cli: CliRunner, person: dict) -> None:
    result = ok(invoke(cli, "keys", "rotate"))
    assert "active" in result.stdout
    shown = json.loads(ok(invoke(cli, "person", "show", "--id-number", ID_NUMBER, "--json")).stdout)
    assert shown["id"] == person["id"]
    assert shown["name"] == "张*"
    assert shown["phone"].endswith("138****8000")
    field = [k for k in _keys(cli) if k["kind"] == "data" and k["purpose"] == "field"]
    assert [k["status"] for k in field] == ["retired", "active"]
    assert "retired" in ok(invoke(cli, "keys", "list")).stdout
    ok(invoke(cli, "audit", "verify"))


def test_keys_rotate_signing(cli: CliRunner, initialised: Settings) -> None:
    (old,) = [k for k in _keys(cli) if k["kind"] == "signing"]
    result = ok(invoke(cli, "keys", "rotate-signing"))
    assert old["id"] not in result.stdout
    signing = {k["id"]: k for k in _keys(cli) if k["kind"] == "signing"}
    assert len(signing) == 2
    assert signing[old["id"]]["status"] == "retired"
    (new,) = [k for kid, k in signing.items() if kid != old["id"]]
    assert new["status"] == "active" and new["purpose"] == "ES256"
    assert new["id"] in result.stdout


def test_keys_rotate_signing_rejects_unknown_alg(cli: CliRunner, initialised: Settings) -> None:
    refused(invoke(cli, "keys", "rotate-signing", "--alg", "HS256"))
    assert len([k for k in _keys(cli) if k["kind"] == "signing"]) == 1


# --- operators -------------------------------------------------------------------------------------


def test_operator_add(cli: CliRunner, initialised: Settings, engine: Engine) -> None:
    data = json.loads(ok(invoke(cli, "operator", "add", "ops-team", "--json")).stdout)
    assert data["name"] == "ops-team"
    assert data["token"].startswith("ywop_")
    assert len(data["token"]) > 40
    # Stored only as a hash.
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM operator_tokens")).scalars().all()
    assert len(stored) == 1 and data["token"] not in stored[0]
    line = refused(invoke(cli, "operator", "add", "ops-team", "--json"))
    assert "already exists" in line
    assert count(engine, AuditEvent) > 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM operator_tokens")).scalar_one() == 1


# --- not ready -------------------------------------------------------------------------------------


def test_uninitialised_database_says_run_init(cli: CliRunner, settings: Settings) -> None:
    line = refused(invoke(cli, "person", "show", "--id-number", ID_NUMBER))
    assert "yiwang init" in line


def test_unreachable_database(cli: CliRunner, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIWANG_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/test")
    line = refused(invoke(cli, "person", "show", "--id-number", ID_NUMBER))
    assert "unreachable" in line
    line = refused(invoke(cli, "init"))
    assert "unreachable" in line


# --- ID-number conflicts ---------------------------------------------------------------------------


def test_person_conflicts_lists_takeovers_without_personal_data(cli: CliRunner, person: dict) -> None:
    from idp.proofing import binding
    from idp.records import people
    from idp.runtime import open_runtime

    assert json.loads(ok(invoke(cli, "person", "conflicts", "--json")).stdout) == {"conflicts": []}
    assert "no conflicts" in ok(invoke(cli, "person", "conflicts")).stdout
    rt = open_runtime(Settings())
    try:
        with rt.transaction() as session:
            owner = people.register_by_phone(session, rt.protector, "13900000002")
            binding.prove(session, rt.protector, owner.id, id_number=ID_NUMBER, name=NAME, source="carrier",
                          channel="test", deny_until=0)  # fmt: skip
            owner_id = owner.id
    finally:
        rt.close()
    listed = json.loads(ok(invoke(cli, "person", "conflicts", "--json")).stdout)["conflicts"]
    assert [(c["outcome"], c["holder"], c["claimant"], c["holder_proof"], c["claimant_proof"]) for c in listed] == [
        ("revoked", person["id"], owner_id, 1, 2)
    ]
    text_out = ok(invoke(cli, "person", "conflicts")).stdout
    assert "revoked" in text_out and ID_NUMBER not in text_out and NAME not in text_out
    assert invoke(cli, "person", "conflicts", "--limit", "0").exit_code == 2  # a usage error
