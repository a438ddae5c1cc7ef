"""Inclusion and consistency proofs against signed tree heads, as JSON-ready dicts (hashes in hex).

A proof reads the stored tile hashes (one per TILE leaves) and the leaves of at most the two tiles it cuts
through, then rehashes only those: about size/TILE + 2·TILE hashes, not the whole tree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import heads, merkle
from idp.audit.events import AuditEvent, as_dict
from idp.audit.heads import TILE, AuditLeaf, AuditTile, AuditTreeHead


class ProofError(Exception):
    """The proof asked for cannot exist (unknown event, not sealed yet, no such tree head)."""


def _head(session: Session, tree_size: int | None) -> AuditTreeHead:
    query = select(AuditTreeHead)
    query = (
        query.order_by(AuditTreeHead.tree_size.desc()).limit(1)
        if tree_size is None
        else query.where(AuditTreeHead.tree_size == tree_size)
    )
    row = session.scalars(query).first()
    if row is None:
        raise ProofError("no signed tree head yet" if tree_size is None else f"no tree head of size {tree_size}")
    return row


class StoredTree:
    """The first `size` leaves as `merkle` sees them: leaves loaded a tile at a time, tiles as known hashes."""

    def __init__(self, session: Session, size: int) -> None:
        self._session, self._size = session, size
        complete = size // TILE
        rows = session.execute(select(AuditTile.idx, AuditTile.tile_hash).where(AuditTile.idx < complete))
        self._tiles = {idx: bytes.fromhex(h) for idx, h in rows}
        self._blocks: dict[int, list[bytes]] = {}

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: int, /) -> bytes:
        block = index // TILE
        if block not in self._blocks:
            hi = min((block + 1) * TILE, self._size)
            rows = self._session.scalars(
                select(AuditLeaf.leaf_hash)
                .where(AuditLeaf.idx >= block * TILE, AuditLeaf.idx < hi)
                .order_by(AuditLeaf.idx)
            )
            self._blocks[block] = [bytes.fromhex(h) for h in rows]
        return self._blocks[block][index - block * TILE]

    def known(self, lo: int, hi: int) -> bytes | None:
        if hi - lo == TILE and lo % TILE == 0:
            return self._tiles.get(lo // TILE)
        return None


def inclusion(
    session: Session, event_id: str, tree_size: int | None = None, *, content: bool = False
) -> dict[str, Any]:
    """RFC 6962 §2.1.1 audit path of an event's leaf in the tree of a signed head (default: the latest)."""
    leaf = session.scalars(select(AuditLeaf).where(AuditLeaf.event_id == event_id)).first()
    if leaf is None:
        exists = session.get(AuditEvent, event_id) is not None
        raise ProofError(f"event {event_id} is not sealed yet" if exists else f"no event {event_id}")
    head = _head(session, tree_size)
    if leaf.idx >= head.tree_size:
        raise ProofError(f"event {event_id} is leaf {leaf.idx}, not in the tree of size {head.tree_size}")
    tree = StoredTree(session, head.tree_size)
    proof: dict[str, Any] = {
        "event_id": event_id,
        "leaf_index": leaf.idx,
        "leaf_hash": leaf.leaf_hash,
        "tree_size": head.tree_size,
        "audit_path": [h.hex() for h in merkle.inclusion_proof(leaf.idx, tree, tree.known)],
        "tree_head": heads.public(head).as_dict(),
    }
    if content:
        event = session.get(AuditEvent, event_id)
        proof["event"] = None if event is None else as_dict(event)
    return proof


def consistency(session: Session, first: int, second: int | None = None) -> dict[str, Any]:
    """RFC 6962 §2.1.2 proof that the signed tree of `first` leaves is a prefix of the one of `second`."""
    new = _head(session, second)
    old = _head(session, first)
    if old.tree_size > new.tree_size:
        raise ProofError(f"tree head {old.tree_size} is newer than tree head {new.tree_size}")
    tree = StoredTree(session, new.tree_size)
    return {
        "first": heads.public(old).as_dict(),
        "second": heads.public(new).as_dict(),
        "consistency_path": [h.hex() for h in merkle.consistency_proof(old.tree_size, tree, tree.known)],
    }


def check_inclusion(proof: dict[str, Any]) -> bool:
    """What a relying party or citizen does with an inclusion proof (after checking the head's signature)."""
    return merkle.verify_inclusion(
        int(proof["leaf_index"]),
        int(proof["tree_size"]),
        bytes.fromhex(proof["leaf_hash"]),
        [bytes.fromhex(h) for h in proof["audit_path"]],
        bytes.fromhex(proof["tree_head"]["root_hash"]),
    )


def check_consistency(proof: dict[str, Any]) -> bool:
    return merkle.verify_consistency(
        int(proof["first"]["tree_size"]),
        int(proof["second"]["tree_size"]),
        bytes.fromhex(proof["first"]["root_hash"]),
        bytes.fromhex(proof["second"]["root_hash"]),
        [bytes.fromhex(h) for h in proof["consistency_path"]],
    )
