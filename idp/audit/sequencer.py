"""The sequencer: give committed events their place in the Merkle tree and sign the new tree head.

One sequencer at a time across the cluster: on PostgreSQL a transaction-scoped advisory lock (a second node
skips its round, or waits with `wait=True`); on SQLite the write lock every writing transaction already
takes at BEGIN. Writers never take either: appending an event stays one INSERT of its own rows.
Unsealed events are taken oldest first (`at`, then id) in batches; the tree grows from the frontier stored
with the last head, so a round costs what it appends, not the size of the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from idp.audit import heads, merkle
from idp.audit.events import AuditEvent, AuditUnsealed, leaf_data
from idp.audit.heads import TILE, AuditLeaf, AuditTile, AuditTreeHead
from idp.db import utcnow

# Any constant will do as long as nothing else in the database uses it: "yiwang audit" in ASCII, truncated.
_LOCK_KEY = 0x7969_7761_6E67_6175


class SequencerError(Exception):
    """The stored tree does not continue from its last head: sealing more would hide the damage."""


@dataclass(frozen=True)
class SealResult:
    sealed: int
    head: heads.TreeHead | None


def _lock(session: Session, wait: bool) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: this transaction began IMMEDIATE and holds the database's write lock
    if wait:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY}))


def latest_head(session: Session) -> AuditTreeHead | None:
    return session.scalars(select(AuditTreeHead).order_by(AuditTreeHead.tree_size.desc()).limit(1)).first()


def seal(session: Session, master: bytes, log: str, *, wait: bool = False, batch: int = 5000) -> SealResult:
    """Seal up to `batch` waiting events under a new signed tree head, in the caller's transaction.

    Returns SealResult(0, None) when another sequencer holds the lock (and `wait` is false) or nothing waits.
    """
    if not _lock(session, wait):
        return SealResult(0, None)
    last = latest_head(session)
    if last is None:
        frontier = merkle.Frontier()
    else:
        frontier = merkle.Frontier(last.tree_size, [bytes.fromhex(h) for h in last.frontier])
        if frontier.root().hex() != last.root_hash:
            raise SequencerError(f"the frontier stored with tree head {last.tree_size} does not match its root")
    beyond = session.scalar(select(AuditLeaf.idx).where(AuditLeaf.idx >= frontier.size).limit(1))
    if beyond is not None:
        raise SequencerError(f"leaf {beyond} exists beyond the last signed tree head ({frontier.size} leaves)")
    events = list(
        session.scalars(
            select(AuditEvent)
            .join(AuditUnsealed, AuditUnsealed.event_id == AuditEvent.id)
            .order_by(AuditEvent.at, AuditEvent.id)
            .limit(batch)
        )
    )
    if not events:
        return SealResult(0, None)
    old_size = frontier.size
    leaves = []
    for event in events:
        digest = merkle.leaf_hash(leaf_data(event))
        leaves.append(AuditLeaf(idx=frontier.size, event_id=event.id, leaf_hash=digest.hex()))
        frontier.push(digest)
    session.add_all(leaves)
    session.flush()
    for tile in range(old_size // TILE, frontier.size // TILE):  # the tiles this round completed
        hashes = session.scalars(
            select(AuditLeaf.leaf_hash)
            .where(AuditLeaf.idx >= tile * TILE, AuditLeaf.idx < (tile + 1) * TILE)
            .order_by(AuditLeaf.idx)
        )
        session.add(AuditTile(idx=tile, tile_hash=merkle.root([bytes.fromhex(h) for h in hashes]).hex()))
    session.execute(delete(AuditUnsealed).where(AuditUnsealed.event_id.in_([e.id for e in events])))
    key = heads.signing_key(session, master)
    root = frontier.root().hex()
    timestamp = int(utcnow().timestamp() * 1000)
    if last is not None and timestamp < last.timestamp:
        timestamp = last.timestamp  # a clock stepped back on this node: tree head times never go backwards
    row = AuditTreeHead(
        tree_size=frontier.size,
        root_hash=root,
        timestamp=timestamp,
        kid=key.kid,
        signature=heads.sign(key, log, frontier.size, root, timestamp),
        frontier=[h.hex() for h in frontier.hashes],
    )
    session.add(row)
    session.flush()
    return SealResult(len(events), heads.public(row))
