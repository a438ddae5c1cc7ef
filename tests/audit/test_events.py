"""Recording events: masked, append-only, kept or dropped with the transaction that describes them."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from idp import audit
from idp.runtime import Runtime
from tests.audit.conftest import append, seal


def test_masks_personal_data_in_events(rt: Runtime) -> None:
    with rt.transaction() as s:
        audit.record(
            s,
            audit.Event(action="t", subject="11010519491231002X", actor="13800138000", detail={"n": "13800138000"}),
        )
    with rt.transaction() as s:
        row = audit.tail(s, 1)[0]
    assert "11010519491231002X" not in row.subject and "13800138000" not in row.actor + str(row.detail)


@pytest.mark.parametrize("table", ["audit_events", "audit_leaves", "audit_tiles", "audit_tree_heads"])
@pytest.mark.parametrize("verb", ["UPDATE {} SET {} = {}", "DELETE FROM {}"])
def test_database_refuses_update_and_delete(rt: Runtime, table: str, verb: str) -> None:
    from idp.audit.heads import TILE

    with rt.transaction() as s:
        for i in range(TILE):
            audit.record(s, audit.Event(action="bulk", subject=f"b{i}"))
    seal(rt)
    column = {"audit_events": "outcome", "audit_leaves": "leaf_hash", "audit_tree_heads": "root_hash"}.get(
        table, "tile_hash"
    )
    with pytest.raises(DBAPIError, match="append-only"), rt.engine.begin() as conn:
        conn.execute(text(verb.format(table, column, "'x'")))


def test_an_event_waits_for_the_sequencer(rt: Runtime) -> None:
    append(rt, 1)
    with rt.transaction() as s:
        event = audit.tail(s, 1)[0]
        assert s.get(audit.AuditUnsealed, event.id) is not None
    seal(rt)
    with rt.transaction() as s:
        assert s.get(audit.AuditUnsealed, event.id) is None
        assert s.scalar(select(audit.AuditLeaf.idx).where(audit.AuditLeaf.event_id == event.id)) is not None


def test_one_transactions_events_keep_their_order(rt: Runtime) -> None:
    with rt.transaction() as s:
        for i in range(20):
            audit.record(s, audit.Event(action=f"ordered.{i}", subject="x"))
    seal(rt)
    with rt.transaction() as s:
        actions = s.scalars(
            select(audit.AuditEvent.action)
            .join(audit.AuditLeaf, audit.AuditLeaf.event_id == audit.AuditEvent.id)
            .where(audit.AuditEvent.action.like("ordered.%"))
            .order_by(audit.AuditLeaf.idx)
        ).all()
    assert actions == [f"ordered.{i}" for i in range(20)]


def test_rolled_back_work_leaves_no_event(rt: Runtime) -> None:
    with rt.transaction() as s:
        before = len(audit.tail(s, 10000))
    with pytest.raises(RuntimeError), rt.transaction() as s:
        audit.record(s, audit.Event(action="t", subject="x"))
        raise RuntimeError("the change failed")
    with rt.transaction() as s:
        assert len(audit.tail(s, 10000)) == before


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


def test_the_app_runs_a_sealer(rt: Runtime, settings: object) -> None:
    from fastapi.testclient import TestClient

    from idp.app import create_app
    from idp.settings import Settings

    assert isinstance(settings, Settings)
    with TestClient(create_app(settings)) as client:
        task = client.app.state.audit_sealer  # type: ignore[attr-defined]
        assert task is not None and not task.done()
    assert task.cancelled() or task.done()
    off = settings.model_copy(update={"audit_seal_interval_s": 0})
    with TestClient(create_app(off)) as client:
        assert client.app.state.audit_sealer is None  # type: ignore[attr-defined]
