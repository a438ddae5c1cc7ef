"""Helpers for the audit tests: append events, seal them, and tamper the way someone with database rights would."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import text

from idp import audit
from idp.audit import sequencer
from idp.audit import verify as verifying
from idp.runtime import Runtime

GUARDED = ("audit_events", "audit_leaves", "audit_tiles", "audit_tree_heads")


def append(rt: Runtime, n: int, prefix: str = "s") -> None:
    for i in range(n):
        with rt.transaction() as s:
            audit.record(s, audit.Event(action="test.event", subject=f"{prefix}{i}", detail={"i": i}))


def seal(rt: Runtime) -> audit.TreeHead:
    with rt.transaction() as s:
        result = sequencer.seal(s, rt.master, rt.settings.issuer, wait=True)
    assert result.head is not None
    return result.head


def verify(rt: Runtime, known: audit.TreeHead | None = None) -> verifying.Report:
    with rt.transaction() as s:
        return verifying.verify(s, rt.master, rt.settings.issuer, known)


def leaf_event(rt: Runtime, idx: int) -> str:
    with rt.transaction() as s:
        leaf = s.get(audit.AuditLeaf, idx)
        assert leaf is not None
        return leaf.event_id


def tamper(rt: Runtime, *statements: str, **params: Any) -> None:
    """Run SQL with the append-only triggers and foreign keys out of the way, as an attacker with DB rights can."""
    if rt.engine.dialect.name == "postgresql":
        with rt.engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # no triggers, no FK checks
            for sql in statements:
                conn.execute(text(sql), params)
        return
    database = rt.engine.url.database
    assert database
    conn = sqlite3.connect(database)  # a plain connection: foreign keys are off unless asked for
    try:
        for table in GUARDED:
            for verb in ("update", "delete"):
                conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        for sql in statements:
            conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()
