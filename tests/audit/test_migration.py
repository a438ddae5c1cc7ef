"""Migration 0005 keeps the events of the hash-chained trail, and its downgrade rebuilds a valid chain."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import text

from idp import migrate
from idp.db import make_engine

# The revision before the Merkle trail; the lead may re-chain revisions, so ask Alembic rather than hard-code.
OLD_EVENTS = [("person.add", "p1", {"n": 1}), ("org.add", "o1", {"tags": ["a", "b"]}), ("seal.sign", "s1", {})]


def _chain_hash(row: dict[str, object], prev: str) -> str:
    body = {k: row[k] for k in ("seq", "actor", "action", "subject", "channel", "client", "outcome", "detail")}
    body["at"], body["prev"] = row["at"], prev
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def _previous_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate._config())
    down = script.get_revision("0005").down_revision
    assert isinstance(down, str)
    return down


def test_upgrade_keeps_old_events_and_downgrade_rebuilds_the_chain(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, _previous_revision())
        with engine.begin() as conn:
            prev = "0" * 64
            for seq, (action, subject, detail) in enumerate(OLD_EVENTS, start=1):
                at = f"2026-11-2{seq}T10:00:00.000000+00:00"
                row = {
                    "seq": seq,
                    "at": at,
                    "actor": "op",
                    "action": action,
                    "subject": subject,
                    "channel": "cli",
                    "client": None,
                    "outcome": "success",
                    "detail": detail,
                }
                digest = _chain_hash(row, prev)
                conn.execute(
                    text(
                        "INSERT INTO audit_events (seq, at, actor, action, subject, channel, client, outcome, detail, "
                        "prev_hash, hash) VALUES (:seq, :at, :actor, :action, :subject, :channel, :client, :outcome, "
                        ":detail, :prev, :hash)"
                    ),
                    {**row, "detail": json.dumps(detail), "prev": prev, "hash": digest},
                )
                prev = digest
            conn.execute(text("UPDATE audit_head SET seq = :n, hash = :h"), {"n": len(OLD_EVENTS), "h": prev})
        migrate.upgrade(engine)
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT action FROM audit_events ORDER BY at")).scalars().all()
            queued = conn.execute(text("SELECT count(*) FROM audit_unsealed")).scalar()
        assert kept == [a for a, _, _ in OLD_EVENTS] and queued == len(OLD_EVENTS)

        migrate.downgrade(engine, _previous_revision())
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM audit_events ORDER BY seq"))]
            head = conn.execute(text("SELECT seq, hash FROM audit_head")).one()
        prev = "0" * 64
        for row in rows:
            assert row["prev_hash"] == prev
            prev = row["hash"]
        assert [r["action"] for r in rows] == [a for a, _, _ in OLD_EVENTS]
        assert (head.seq, head.hash) == (len(OLD_EVENTS), prev) and prev == _chain_hash_of_last(rows)
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def _chain_hash_of_last(rows: list[dict[str, object]]) -> str:
    """The last record's hash, recomputed the way the old `audit verify` did."""
    from datetime import UTC, datetime

    last = rows[-1]
    at = last["at"]
    when = datetime.fromisoformat(at) if isinstance(at, str) else at
    assert isinstance(when, datetime)
    detail = last["detail"]
    row = {
        **last,
        "at": when.replace(tzinfo=when.tzinfo or UTC).astimezone(UTC).isoformat(timespec="microseconds"),
        "detail": json.loads(detail) if isinstance(detail, str) else detail,
    }
    return _chain_hash(row, str(last["prev_hash"]))
