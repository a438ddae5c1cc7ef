"""Inclusion and consistency proofs against signed tree heads, as JSON-ready dicts (hashes in hex).

A proof is built over the stored leaf hashes up to the head's size: O(size) hashing per proof, which is
fine for the CLI and for a citizen's occasional request (see docs/audit.md for the numbers and the limit).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import heads, merkle
from idp.audit.events import AuditEvent, as_dict
from idp.audit.heads import AuditLeaf, AuditTreeHead


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


def _leaf_hashes(session: Session, size: int) -> list[bytes]:
    rows = session.scalars(select(AuditLeaf.leaf_hash).where(AuditLeaf.idx < size).order_by(AuditLeaf.idx))
    return [bytes.fromhex(h) for h in rows]


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
    leaves = _leaf_hashes(session, head.tree_size)
    proof: dict[str, Any] = {
        "event_id": event_id,
        "leaf_index": leaf.idx,
        "leaf_hash": leaf.leaf_hash,
        "tree_size": head.tree_size,
        "audit_path": [h.hex() for h in merkle.inclusion_proof(leaf.idx, leaves)],
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
    leaves = _leaf_hashes(session, new.tree_size)
    return {
        "first": heads.public(old).as_dict(),
        "second": heads.public(new).as_dict(),
        "consistency_path": [h.hex() for h in merkle.consistency_proof(old.tree_size, leaves)],
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
