"""The audit trail: append-only events, sealed by a sequencer into an RFC 6962 Merkle tree with signed heads.

`events` (append, no shared row), `merkle` (the pure tree math), `heads` (leaves, signed tree heads, the
audit key), `sequencer` (`audit seal`), `verify` (`audit verify`), `proofs` (inclusion and consistency).
Callers record with `audit.record(session, audit.Event(...))`.
"""

from idp.audit.events import AuditEvent, AuditUnsealed, Event, as_dict, leaf_data, record, tail, write_pending
from idp.audit.heads import AuditKey, AuditLeaf, AuditTile, AuditTreeHead, TreeHead

__all__ = [
    "AuditEvent",
    "AuditKey",
    "AuditLeaf",
    "AuditTile",
    "AuditTreeHead",
    "AuditUnsealed",
    "Event",
    "TreeHead",
    "as_dict",
    "leaf_data",
    "record",
    "tail",
    "write_pending",
]
