"""Inclusion and consistency proofs verify against signed tree heads, as a citizen or relying party checks them."""

from __future__ import annotations

import pytest
from joserfc import jws
from joserfc.jwk import ECKey
from sqlalchemy import func, select

from idp import audit
from idp.audit import heads, merkle, proofs
from idp.runtime import Runtime
from tests.audit.conftest import append, seal


def _check_signature(rt: Runtime, head: dict[str, object]) -> None:
    with rt.engine.connect() as conn, conn.execution_options(read_only=True).begin():
        from sqlalchemy.orm import Session

        (jwk,) = heads.jwks(Session(conn))["keys"]
    token = jws.deserialize_compact(str(head["signature"]), ECKey.import_key(jwk), algorithms=["ES256"])
    assert token.protected["typ"] == heads.TYP
    import json

    signed = json.loads(token.payload)
    assert signed == {
        "log": rt.settings.issuer,
        "tree_size": head["tree_size"],
        "root_hash": head["root_hash"],
        "timestamp": head["timestamp"],
    }


def test_a_citizens_signature_event_is_proven_included(rt: Runtime) -> None:
    append(rt, 3)
    with rt.transaction() as s:
        audit.record(
            s,
            audit.Event(
                action="sign.confirm", subject="conf-1", actor="person-1", detail={"document_sha256": "ab" * 32}
            ),
        )
    append(rt, 4, prefix="later")
    seal(rt)
    with rt.transaction() as s:
        (event,) = [e for e in audit.tail(s, 50) if e.action == "sign.confirm"]
        proof = proofs.inclusion(s, event.id, content=True)
    # What the citizen checks: the event they hold hashes to the leaf, the path leads to the signed root.
    assert proof["event"]["detail"] == {"document_sha256": "ab" * 32}
    import json

    leaf = merkle.leaf_hash(
        json.dumps(proof["event"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert leaf.hex() == proof["leaf_hash"]
    assert proofs.check_inclusion(proof)
    _check_signature(rt, proof["tree_head"])
    proof["audit_path"][0] = "00" * 32
    assert not proofs.check_inclusion(proof)


def test_every_event_is_proven_in_every_later_head(rt: Runtime) -> None:
    sizes = []
    for n in (1, 2, 5):
        append(rt, n)
        sizes.append(seal(rt).tree_size)
    with rt.transaction() as s:
        leaves = list(s.scalars(audit.AuditLeaf.__table__.select().order_by(audit.AuditLeaf.idx)).all())
        for idx in range(sizes[-1]):
            event_id = s.get(audit.AuditLeaf, idx).event_id  # type: ignore[union-attr]
            for size in sizes:
                if idx < size:
                    assert proofs.check_inclusion(proofs.inclusion(s, event_id, size))
                else:
                    with pytest.raises(proofs.ProofError, match="not in the tree of size"):
                        proofs.inclusion(s, event_id, size)
    assert len(leaves) == sizes[-1]


def test_successive_heads_are_consistent(rt: Runtime) -> None:
    sizes = []
    for n in (1, 3, 4, 1):
        append(rt, n)
        sizes.append(seal(rt).tree_size)
    with rt.transaction() as s:
        for i, first in enumerate(sizes):
            for second in sizes[i:]:
                proof = proofs.consistency(s, first, second)
                assert proofs.check_consistency(proof)
                _check_signature(rt, proof["second"])
        latest = proofs.consistency(s, sizes[0])
    assert latest["second"]["tree_size"] == sizes[-1]
    latest["first"]["root_hash"] = "00" * 32
    assert not proofs.check_consistency(latest)


def test_unsealed_and_unknown_events_have_no_proof(rt: Runtime) -> None:
    seal(rt)
    append(rt, 1)
    with rt.transaction() as s:
        waiting = audit.tail(s, 1)[0].id
        with pytest.raises(proofs.ProofError, match="not sealed yet"):
            proofs.inclusion(s, waiting)
        with pytest.raises(proofs.ProofError, match="no event"):
            proofs.inclusion(s, "00000000-0000-0000-0000-000000000000")
        with pytest.raises(proofs.ProofError, match="no tree head of size 999"):
            proofs.consistency(s, 999)


def _many(rt: Runtime, n: int) -> None:
    with rt.transaction() as s:
        for i in range(n):
            audit.record(s, audit.Event(action="bulk", subject=f"b{i}"))


def test_proofs_over_stored_tiles_match_proofs_over_every_leaf(rt: Runtime) -> None:
    """Heads at sizes that cut tiles in different places; the tiles give the same proofs as all the leaves."""
    from idp.audit.heads import TILE

    sizes = []
    for n in (TILE - 3, 2, TILE + 40, 3 * TILE):  # ends inside tile 0, exactly on tiles, and beyond
        _many(rt, n)
        sizes.append(seal(rt).tree_size)
    with rt.transaction() as s:
        everything = [
            bytes.fromhex(h) for h in s.scalars(select(audit.AuditLeaf.leaf_hash).order_by(audit.AuditLeaf.idx))
        ]
        assert s.scalar(select(func.count()).select_from(audit.AuditTile)) == sizes[-1] // TILE
        for size in sizes:
            for idx in (0, TILE - 1, TILE, size // 2, size - 1):
                if idx >= size:
                    continue
                event_id = s.scalars(select(audit.AuditLeaf.event_id).where(audit.AuditLeaf.idx == idx)).one()
                proof = proofs.inclusion(s, event_id, size)
                assert [bytes.fromhex(h) for h in proof["audit_path"]] == merkle.inclusion_proof(idx, everything[:size])
                assert proofs.check_inclusion(proof)
        for first in sizes:
            proof = proofs.consistency(s, first, sizes[-1])
            assert [bytes.fromhex(h) for h in proof["consistency_path"]] == merkle.consistency_proof(first, everything)
            assert proofs.check_consistency(proof)
