"""`audit verify` recomputes every leaf, the tree and every signed tree head, and names the first problem.

Each tampering test makes the change an attacker with write access to the database (but not the master key)
could make, with the append-only triggers and foreign keys out of the way.
"""

from __future__ import annotations

from joserfc import jws
from joserfc.jwk import ECKey

from idp.runtime import Runtime
from tests.audit.conftest import append, leaf_event, seal, tamper, verify


def _sealed(rt: Runtime, batches: tuple[int, ...] = (4, 3)) -> list[int]:
    """Seal what start-up recorded, then `batches` more; the sizes of the tree heads made for the batches."""
    seal(rt)
    sizes = []
    for i, n in enumerate(batches):
        append(rt, n, prefix=f"b{i}-")
        sizes.append(seal(rt).tree_size)
    return sizes


def test_intact_log_verifies(rt: Runtime) -> None:
    first, second = _sealed(rt)
    report = verify(rt)
    assert report.intact, report.problem
    assert (report.leaves, report.heads) == (second, 3) and second == first + 3


def test_unsealed_events_are_fine_until_sealed(rt: Runtime) -> None:
    _sealed(rt)
    append(rt, 2)
    assert verify(rt).intact


def test_altered_event_is_named(rt: Runtime) -> None:
    _sealed(rt)
    event = leaf_event(rt, 2)
    tamper(rt, "UPDATE audit_events SET subject = 'forged' WHERE id = :id", id=event)
    report = verify(rt)
    assert not report.intact and report.first_bad_leaf == 2
    assert report.problem == f"event {event} (leaf 2) was altered"


def test_altered_event_with_its_leaf_rehashed_breaks_the_signed_head(rt: Runtime) -> None:
    """Recomputing the forged event's leaf hash does not help: the signed root no longer matches."""
    from idp import audit
    from idp.audit import merkle

    first, _ = _sealed(rt)
    event = leaf_event(rt, 1)
    with rt.transaction() as s:
        row = s.get(audit.AuditEvent, event)
        assert row is not None
        s.expunge(row)
    row.subject = "forged"
    forged = merkle.leaf_hash(audit.leaf_data(row)).hex()
    tamper(
        rt,
        "UPDATE audit_events SET subject = 'forged' WHERE id = :id",
        "UPDATE audit_leaves SET leaf_hash = :h WHERE idx = 1",
        id=event,
        h=forged,
    )
    report = verify(rt)
    assert not report.intact
    assert (report.problem or "").startswith(f"tree head {first} does not match the leaves")


def test_removed_event_is_named(rt: Runtime) -> None:
    _sealed(rt)
    event = leaf_event(rt, 3)
    tamper(rt, "DELETE FROM audit_events WHERE id = :id", id=event)
    report = verify(rt)
    assert report.problem == f"event {event} (leaf 3) is missing"


def test_removed_leaf_is_named(rt: Runtime) -> None:
    _sealed(rt)
    event = leaf_event(rt, 3)
    tamper(rt, "DELETE FROM audit_leaves WHERE idx = 3", "DELETE FROM audit_events WHERE id = :id", id=event)
    assert verify(rt).problem == "leaf 3 is missing"


def test_removed_last_leaf_is_detected(rt: Runtime) -> None:
    (size,) = _sealed(rt, (4,))
    tamper(rt, "DELETE FROM audit_leaves WHERE idx = :i", i=size - 1)
    report = verify(rt)
    assert (
        report.problem
        == f"tree head {size} covers {size} leaves but {size - 1} exist: leaf {size - 1} onwards is missing"
    )


def test_reordered_events_are_detected(rt: Runtime) -> None:
    first, _ = _sealed(rt)
    tamper(
        rt,
        "UPDATE audit_leaves SET idx = 100 WHERE idx = 2",
        "UPDATE audit_leaves SET idx = 2 WHERE idx = 3",
        "UPDATE audit_leaves SET idx = 3 WHERE idx = 100",
    )
    report = verify(rt)
    assert not report.intact and report.first_bad_leaf == first - 1
    assert (report.problem or "").startswith(f"tree head {first} does not match the leaves")


def test_altered_tree_head_is_detected(rt: Runtime) -> None:
    first, _ = _sealed(rt)
    tamper(rt, "UPDATE audit_tree_heads SET root_hash = :r WHERE tree_size = :n", r="ab" * 32, n=first)
    assert verify(rt).problem == f"tree head {first} was altered: its signature covers different values"


def test_altered_tree_head_timestamp_is_detected(rt: Runtime) -> None:
    _, second = _sealed(rt)
    tamper(rt, "UPDATE audit_tree_heads SET timestamp = timestamp - 1000 WHERE tree_size = :n", n=second)
    assert verify(rt).problem == f"tree head {second} was altered: its signature covers different values"


def test_a_tree_head_signed_with_a_key_slipped_into_the_database_is_refused(rt: Runtime) -> None:
    """Without the master key an attacker can add a public key, but its private half is not sealed under it."""
    from idp.audit import heads

    _, second = _sealed(rt)
    rogue = ECKey.generate_key("P-256", private=True)
    public = {**rogue.as_dict(private=False), "kid": rogue.thumbprint(), "alg": "ES256", "use": "sig"}
    with rt.transaction() as s:
        head = s.get(heads.AuditTreeHead, second)
        assert head is not None
        payload = heads._payload(rt.settings.issuer, second, "cd" * 32, head.timestamp)
    forged = jws.serialize_compact({"alg": "ES256", "kid": rogue.thumbprint(), "typ": heads.TYP}, payload, rogue)
    import json

    tamper(
        rt,
        "INSERT INTO audit_keys (kid, public_jwk, sealed_private_key, created_at) "
        "VALUES (:kid, :jwk, :sealed, CURRENT_TIMESTAMP)",
        "UPDATE audit_tree_heads SET root_hash = :root, signature = :sig, kid = :kid WHERE tree_size = :n",
        kid=rogue.thumbprint(),
        jwk=json.dumps(public),
        sealed=b"not sealed under the master key",
        root="cd" * 32,
        sig=forged,
        n=second,
    )
    assert verify(rt).problem == f"tree head {second} was altered: it is signed with an unknown key or algorithm"


def test_a_removed_latest_head_is_detected(rt: Runtime) -> None:
    first, second = _sealed(rt)
    tamper(rt, "DELETE FROM audit_tree_heads WHERE tree_size = :n", n=second)
    assert verify(rt).problem == f"leaves {first} to {second - 1} are under no signed tree head"
    # The sequencer will not paper over it by signing a new head on top.
    import pytest

    from idp.audit import sequencer

    append(rt, 1)
    with pytest.raises(sequencer.SequencerError, match=f"leaf {first} exists beyond the last signed tree head"):
        seal(rt)


def test_an_event_dropped_from_the_queue_is_detected(rt: Runtime) -> None:
    _sealed(rt)
    append(rt, 1)
    tamper(rt, "DELETE FROM audit_unsealed")
    assert "is neither in the tree nor waiting to be sealed" in (verify(rt).problem or "")


def test_a_log_truncated_behind_a_known_head_is_detected(rt: Runtime) -> None:
    """With heads, leaves and events all removed, only a head published earlier shows what is gone."""
    first, second = _sealed(rt)
    with rt.transaction() as s:
        from idp.audit import heads

        row = s.get(heads.AuditTreeHead, second)
        assert row is not None
        known = heads.public(row)
    tamper(
        rt,
        "DELETE FROM audit_tree_heads WHERE tree_size = :n",
        "DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_leaves WHERE idx >= :f)",
        "DELETE FROM audit_leaves WHERE idx >= :f",
        n=second,
        f=first,
    )
    assert verify(rt).intact  # nothing left inside the database shows it
    assert verify(rt, known).problem == f"the log holds {first} leaves, fewer than the known tree head ({second})"


def test_an_altered_tile_is_detected(rt: Runtime) -> None:
    """Tiles are the proofs' shortcut: a forged one would make proofs disagree with the leaves."""
    from idp import audit
    from idp.audit.heads import TILE

    with rt.transaction() as s:
        for i in range(TILE + 5):
            audit.record(s, audit.Event(action="bulk", subject=f"b{i}"))
    seal(rt)
    assert verify(rt).intact
    tamper(rt, "UPDATE audit_tiles SET tile_hash = :h WHERE idx = 0", h="ab" * 32)
    assert verify(rt).problem == f"tile 0 (leaves 0 to {TILE - 1}) is missing or does not match"
    tamper(rt, "DELETE FROM audit_tiles")
    assert verify(rt).problem == f"tile 0 (leaves 0 to {TILE - 1}) is missing or does not match"
