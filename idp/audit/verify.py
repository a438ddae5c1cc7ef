"""`audit verify`: recompute everything from the events and name the first problem.

Checked, in tree order: every leaf has an event whose content still hashes to the leaf (altered, removed
events); leaf indexes have no gap; every stored tile (the proofs' shortcut) is the root of its leaves; every tree head is signed by a trusted audit key over exactly its fields
and its root is the root recomputed over the first `tree_size` leaves (reordered, replaced or removed leaves;
altered heads); heads never go back in time; no leaf lies beyond the last head; and every event is either in
the tree or waiting for the sequencer. Because every head's root is recomputed over one and the same leaf
sequence, each head is a prefix of the next: that is what a consistency proof shows to someone without the
leaves, and here it is checked directly. A head published earlier (`known`) is checked the same way, which
catches a log rewritten or truncated from that point with the signing key in hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from idp.audit import heads, merkle
from idp.audit.events import AuditEvent, AuditUnsealed, leaf_data
from idp.audit.heads import TILE, AuditLeaf, AuditTile, AuditTreeHead, TreeHead


@dataclass(frozen=True)
class Report:
    intact: bool
    leaves: int
    heads: int
    problem: str | None = None
    first_bad_leaf: int | None = None


def _leaves(session: Session, batch: int = 2000) -> Iterator[tuple[AuditLeaf, AuditEvent | None]]:
    last = -1
    while True:
        rows = session.execute(
            select(AuditLeaf, AuditEvent)
            .outerjoin(AuditEvent, AuditEvent.id == AuditLeaf.event_id)
            .where(AuditLeaf.idx > last)
            .order_by(AuditLeaf.idx)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from ((row[0], row[1]) for row in rows)
        last = rows[-1][0].idx


def _heads(session: Session, batch: int = 2000) -> Iterator[AuditTreeHead]:
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditTreeHead)
                .where(AuditTreeHead.tree_size > last)
                .order_by(AuditTreeHead.tree_size)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].tree_size


def verify(session: Session, master: bytes, log: str, known: TreeHead | None = None) -> Report:
    keys = heads.trusted_keys(session, master)
    frontier = merkle.Frontier()
    head_iter = _heads(session)
    head = next(head_iter, None)
    checked_heads, last_time = 0, 0
    tiles = {idx: h for idx, h in session.execute(select(AuditTile.idx, AuditTile.tile_hash))}
    block: list[bytes] = []

    def bad(problem: str, leaf: int | None = None) -> Report:
        return Report(False, frontier.size, checked_heads, problem, leaf)

    def check_head(row: AuditTreeHead) -> str | None:
        nonlocal last_time
        wrong = heads.check(heads.public(row), log, keys)
        if wrong is not None:
            return f"tree head {row.tree_size} was altered: {wrong}"
        if row.root_hash != frontier.root().hex():
            return (
                f"tree head {row.tree_size} does not match the leaves: an event among leaves "
                f"{row.tree_size - 1} and before was removed, reordered or replaced"
            )
        if row.timestamp < last_time:
            return f"tree head {row.tree_size} is dated before the tree head preceding it"
        last_time = row.timestamp
        return None

    for leaf, event in _leaves(session):
        if leaf.idx != frontier.size:
            return bad(f"leaf {frontier.size} is missing", frontier.size)
        if event is None:
            return bad(f"event {leaf.event_id} (leaf {leaf.idx}) is missing", leaf.idx)
        digest = merkle.leaf_hash(leaf_data(event))
        if digest.hex() != leaf.leaf_hash:
            return bad(f"event {event.id} (leaf {leaf.idx}) was altered", leaf.idx)
        frontier.push(digest)
        block.append(digest)
        if len(block) == TILE:
            tile = leaf.idx // TILE
            if tiles.pop(tile, None) != merkle.root(block).hex():
                return bad(f"tile {tile} (leaves {tile * TILE} to {leaf.idx}) is missing or does not match", leaf.idx)
            block = []
        if known is not None and known.tree_size == frontier.size and known.root_hash != frontier.root().hex():
            return bad(f"the log differs from the known tree head of size {known.tree_size}", leaf.idx)
        if head is not None and head.tree_size == frontier.size:
            problem = check_head(head)
            if problem is not None:
                return bad(problem, leaf.idx)
            checked_heads += 1
            head = next(head_iter, None)
    if head is not None:
        return bad(
            f"tree head {head.tree_size} covers {head.tree_size} leaves but {frontier.size} exist: "
            f"leaf {frontier.size} onwards is missing",
            frontier.size,
        )
    if tiles:
        return bad(f"tile {min(tiles)} covers leaves that do not exist")
    if known is not None and known.tree_size > frontier.size:
        return bad(f"the log holds {frontier.size} leaves, fewer than the known tree head ({known.tree_size})")
    signed = 0 if checked_heads == 0 else _last_size(session)
    if frontier.size > signed:
        return bad(f"leaves {signed} to {frontier.size - 1} are under no signed tree head", signed)
    stray = session.scalar(
        select(AuditEvent.id)
        .where(
            and_(
                ~exists().where(AuditLeaf.event_id == AuditEvent.id),
                ~exists().where(AuditUnsealed.event_id == AuditEvent.id),
            )
        )
        .limit(1)
    )
    if stray is not None:
        return bad(f"event {stray} is neither in the tree nor waiting to be sealed")
    return Report(True, frontier.size, checked_heads)


def _last_size(session: Session) -> int:
    return session.scalar(select(AuditTreeHead.tree_size).order_by(AuditTreeHead.tree_size.desc()).limit(1)) or 0
