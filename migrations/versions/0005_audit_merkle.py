"""audit merkle

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

The audit trail without a global lock: events get a random id and are appended with no shared row (the
`audit_head` row and the per-event hash chain go); a sequencer puts them into an RFC 6962 Merkle tree
(`audit_leaves`, with the hash of every 256-leaf tile in `audit_tiles` for fast proofs) and signs tree heads (`audit_tree_heads`) with an audit key (`audit_keys`). Events, leaves and
heads are append-only (triggers); `audit_unsealed` is the sequencer's queue. Existing events are kept: they
get ids and wait in the queue for the first seal. The downgrade rebuilds the hash chain.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GUARDED = ("audit_events", "audit_leaves", "audit_tiles", "audit_tree_heads")


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _guard(table: str) -> None:
    if _postgres():
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION yiwang_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def _unguard(table: str) -> None:
    if _postgres():
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


def _old_events() -> list[dict[str, Any]]:
    rows = op.get_bind().execute(
        sa.text("SELECT at, actor, action, subject, channel, client, outcome, detail FROM audit_events ORDER BY seq")
    )
    return [dict(r._mapping) for r in rows]


def _detail(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _at(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade() -> None:
    kept = _old_events()
    _unguard("audit_events")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))
    op.drop_table("audit_events")
    op.drop_table("audit_head")
    if _postgres():
        op.execute("DROP FUNCTION IF EXISTS yiwang_audit_append_only()")
        op.execute(
            "CREATE FUNCTION yiwang_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )

    events = op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
    unsealed = op.create_table(
        "audit_unsealed",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["audit_events.id"], name=op.f("fk_audit_unsealed_event_id_audit_events")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_unsealed")),
    )
    op.create_table(
        "audit_leaves",
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["audit_events.id"], name=op.f("fk_audit_leaves_event_id_audit_events")),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_audit_leaves")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_leaves_event_id")),
    )
    op.create_table(
        "audit_tiles",
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tile_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_audit_tiles")),
    )
    op.create_table(
        "audit_tree_heads",
        sa.Column("tree_size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("frontier", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_tree_heads")),
    )
    op.create_table(
        "audit_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_audit_keys")),
    )
    rows = [{**row, "id": str(uuid.uuid4()), "at": _at(row["at"]), "detail": _detail(row["detail"])} for row in kept]
    if rows:
        op.bulk_insert(events, rows)
        op.bulk_insert(unsealed, [{"event_id": row["id"]} for row in rows])
    for table in GUARDED:
        _guard(table)


def _chain_digest(seq: int, row: dict[str, Any], prev: str) -> str:
    """The 0001 hash chain, rebuilt for the downgrade."""
    body = {
        "seq": seq,
        "at": _at(row["at"]).isoformat(timespec="microseconds"),
        **{k: row[k] for k in ("actor", "action", "subject", "channel", "client", "outcome")},
        "detail": _detail(row["detail"]),
        "prev": prev,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def downgrade() -> None:
    kept = [
        dict(r._mapping)
        for r in op.get_bind().execute(
            sa.text(
                "SELECT e.at, e.actor, e.action, e.subject, e.channel, e.client, e.outcome, e.detail "
                "FROM audit_events e LEFT JOIN audit_leaves l ON l.event_id = e.id "
                "ORDER BY CASE WHEN l.idx IS NULL THEN 1 ELSE 0 END, l.idx, e.at, e.id"
            )
        )
    ]
    for table in GUARDED:
        _unguard(table)
    op.drop_table("audit_keys")
    op.drop_table("audit_tree_heads")
    op.drop_table("audit_tiles")
    op.drop_table("audit_leaves")
    op.drop_table("audit_unsealed")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))
    op.drop_table("audit_events")

    events = op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    prev, rows = "0" * 64, []
    for seq, row in enumerate(kept, start=1):
        digest = _chain_digest(seq, row, prev)
        rows.append(
            {
                **row,
                "seq": seq,
                "at": _at(row["at"]),
                "detail": _detail(row["detail"]),
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    if rows:
        op.bulk_insert(events, rows)
    op.bulk_insert(head, [{"id": 1, "seq": len(rows), "hash": prev}])
    if _postgres():
        op.execute("DROP FUNCTION IF EXISTS yiwang_append_only()")
        op.execute(
            "CREATE FUNCTION yiwang_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION yiwang_audit_append_only()"
        )
    else:
        _guard("audit_events")
