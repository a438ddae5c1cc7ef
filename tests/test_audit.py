"""The audit trail is append-only and hash-chained: any altered, removed or truncated record is named."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from idp import audit
from idp.runtime import Runtime


def _append(rt: Runtime, n: int) -> None:
    for i in range(n):
        with rt.transaction() as s:
            audit.record(s, audit.Event(action="test.event", subject=f"s{i}", detail={"i": i}))


def _verify(rt: Runtime) -> audit.ChainReport:
    with rt.transaction() as s:
        return audit.verify(s)


def _drop_guards(rt: Runtime) -> None:
    """What an attacker with database rights would do first."""
    with rt.engine.begin() as conn:
        if rt.engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
            conn.execute(text("DROP TRIGGER audit_events_no_delete"))


def test_intact_chain_verifies(rt: Runtime) -> None:
    _append(rt, 5)
    report = _verify(rt)
    assert report.intact and report.checked >= 5


def test_masks_personal_data_in_events(rt: Runtime) -> None:
    with rt.transaction() as s:
        audit.record(
            s,
            audit.Event(action="t", subject="11010519491231002X", actor="13800138000", detail={"n": "13800138000"}),
        )
    with rt.transaction() as s:
        row = audit.tail(s, 1)[0]
    assert "11010519491231002X" not in row.subject and "13800138000" not in row.actor + str(row.detail)


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET outcome = 'x'", "DELETE FROM audit_events"])
def test_database_refuses_update_and_delete(rt: Runtime, statement: str) -> None:
    _append(rt, 1)
    with pytest.raises(DBAPIError, match="append-only"), rt.engine.begin() as conn:
        conn.execute(text(statement))


def test_altered_record_is_named(rt: Runtime) -> None:
    _append(rt, 5)
    _drop_guards(rt)
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET subject = 'forged' WHERE seq = 3"))
    report = _verify(rt)
    assert not report.intact
    assert report.first_bad_seq == 3 and "altered" in (report.problem or "")


def test_rehashed_forgery_breaks_the_next_link(rt: Runtime) -> None:
    """Recomputing the forged record's own hash does not help: the next record still points at the old one."""
    _append(rt, 4)
    _drop_guards(rt)
    with rt.transaction() as s:
        row = s.get(audit.AuditEvent, 2)
        assert row is not None
        row.subject = "forged"
        row.hash = audit._digest(row)
    report = _verify(rt)
    assert report.first_bad_seq == 3


def test_removed_record_is_named(rt: Runtime) -> None:
    _append(rt, 5)
    _drop_guards(rt)
    with rt.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    report = _verify(rt)
    assert (report.intact, report.first_bad_seq) == (False, 2)
    assert "missing" in (report.problem or "")


def test_truncated_tail_is_detected(rt: Runtime) -> None:
    _append(rt, 5)
    with rt.transaction() as s:
        last = audit.tail(s, 1)[0].seq
    _drop_guards(rt)
    with rt.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM audit_events WHERE seq = {last}"))
    report = _verify(rt)
    assert (report.intact, report.first_bad_seq) == (False, last)


def test_concurrent_writers_keep_one_chain(rt: Runtime) -> None:
    threads = [threading.Thread(target=_append, args=(rt, 10)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = _verify(rt)
    assert report.intact, report.problem
    assert report.checked >= 40


def test_rolled_back_work_leaves_no_event(rt: Runtime) -> None:
    before = _verify(rt).checked
    with pytest.raises(RuntimeError), rt.transaction() as s:
        audit.record(s, audit.Event(action="t", subject="x"))
        raise RuntimeError("the change failed")
    after = _verify(rt)
    assert after.intact and after.checked == before


def test_a_rolled_back_savepoint_keeps_the_transactions_other_events(rt: Runtime) -> None:
    from sqlalchemy.exc import IntegrityError

    from idp.db import utcnow
    from idp.oauth.models import RevokedAccessToken

    with rt.transaction() as s:
        audit.record(s, audit.Event(action="outer.first", subject="x"))
        s.add(RevokedAccessToken(jti="dup", expires_at=utcnow()))
        s.flush()
        with pytest.raises(IntegrityError), s.begin_nested():
            s.add(RevokedAccessToken(jti="dup", expires_at=utcnow()))
        audit.record(s, audit.Event(action="outer.second", subject="x"))
    with rt.transaction() as s:
        assert [e.action for e in audit.tail(s, 2)] == ["outer.first", "outer.second"]
