"""Appending events does not serialise writers; sealing runs on one node at a time (PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from idp import audit
from idp.audit import sequencer
from idp.runtime import Runtime
from tests.audit.conftest import append, seal, verify

pytestmark = pytest.mark.postgres


@pytest.fixture
def db_url(pg_schema_url: str) -> str:
    """PostgreSQL only: SQLite has one writer at a time by design."""
    return pg_schema_url


@pytest.fixture
def pg(rt: Runtime) -> Runtime:
    return rt


def test_two_open_transactions_append_without_waiting_for_each_other(pg: Runtime) -> None:
    """Each transaction writes its event and stays open; the other still writes and commits.

    A shared row (a chain head, a counter) would make the second write wait for the first transaction:
    with a lock timeout that wait is an error instead of a hang, so the test fails rather than blocks.
    """
    first, second = pg.sessions(), pg.sessions()
    try:
        for session in (first, second):
            session.begin()
            session.execute(text("SET LOCAL lock_timeout = '3s'"))
        audit.record(first, audit.Event(action="concurrent.first", subject="a"))
        audit.write_pending(first)
        audit.record(second, audit.Event(action="concurrent.second", subject="b"))
        audit.write_pending(second)
        second.commit()  # the later transaction commits while the earlier one is still open
        first.commit()
    finally:
        first.close()
        second.close()
    seal(pg)
    report = verify(pg)
    assert report.intact, report.problem
    with pg.transaction() as s:
        assert {"concurrent.first", "concurrent.second"} <= {e.action for e in audit.tail(s, 5)}


def test_one_sequencer_at_a_time(pg: Runtime) -> None:
    append(pg, 3)
    holder = pg.sessions()
    try:
        holder.begin()
        assert sequencer._lock(holder, wait=False)
        with pg.transaction() as s:
            assert sequencer.seal(s, pg.master, pg.settings.issuer) == sequencer.SealResult(0, None)
        holder.rollback()
    finally:
        holder.close()
    assert seal(pg).tree_size >= 3


def test_the_apps_sealing_round_skips_while_another_node_seals(pg: Runtime) -> None:
    from idp.audit import background

    append(pg, 2)
    holder = pg.sessions()
    try:
        holder.begin()
        assert sequencer._lock(holder, wait=False)
        assert background.seal_round(pg) == 0
        holder.rollback()
    finally:
        holder.close()
    assert background.seal_round(pg) >= 2
    assert background.seal_round(pg) == 0
