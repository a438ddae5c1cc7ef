"""Data-key rotation without downtime.

A new data key becomes active at once; running processes keep decrypting old values (each ciphertext names
its key version) and pick up the new key on their next refresh. Then every encrypted value is re-encrypted
in small transactions, each row locked while it is rewritten, so a concurrent update is never lost. Old keys
are marked retired only when no value uses them any more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from keys.envelope import key_version
from keys.protector import Protector
from keys.schema import Base
from keys.store import FIELD, DataKey, add_data_key

BATCH = 200


class KeyAudit(Protocol):
    def __call__(self, session: Session, action: str, subject: str, detail: dict[str, Any], /) -> None:
        """Append an audit event in the caller's transaction."""


@dataclass(frozen=True)
class RotationReport:
    new_version: int
    rewritten: int
    remaining: int
    retired: list[int]


@dataclass(frozen=True)
class Rotation:
    """What a rotation works with, given by the app: its unit of work, the process's protector, the master
    key, every encrypted column by table, and its audit trail."""

    transaction: Callable[[], AbstractContextManager[Session]]
    protector: Protector
    master: bytes
    columns: Mapping[str, tuple[str, ...]]
    audit: KeyAudit


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def count_rows(rt: Rotation) -> int:
    with rt.transaction() as session:
        return sum(session.scalar(select(func.count()).select_from(_table(t))) or 0 for t in rt.columns)


def _rewrite_batch(
    session: Session, rt: Rotation, table: Table, columns: tuple[str, ...], after: str
) -> tuple[int, int, str | None]:
    """Re-encrypt one batch of rows with ids after `after`. Returns (rows seen, values rewritten, last id)."""
    (pk,) = table.primary_key.columns
    rows = session.execute(
        select(pk.label("row_id"), *(table.c[c] for c in columns))
        .where(pk > after)
        .order_by(pk)
        .limit(BATCH)
        .with_for_update()
    ).all()
    rewritten = 0
    active = rt.protector.active_version
    for row in rows:
        changes = {}
        for column in columns:
            blob = getattr(row, column)
            if blob is not None and key_version(blob) != active:
                plain = rt.protector.decrypt(table.name, column, row.row_id, blob)
                changes[column] = rt.protector.encrypt(table.name, column, row.row_id, plain)
        if changes:
            session.execute(update(table).where(pk == row.row_id).values(**changes))
            rewritten += len(changes)
    return len(rows), rewritten, rows[-1].row_id if rows else None


def _reencrypt_all(rt: Rotation, progress: Callable[[int], None]) -> int:
    rewritten = 0
    for name, columns in rt.columns.items():
        table, after = _table(name), ""
        while True:
            with rt.transaction() as session:
                seen, done, last = _rewrite_batch(session, rt, table, columns, after)
            rewritten += done
            progress(seen)
            if last is None:
                break
            after = last
    return rewritten


def _versions_in_use(rt: Rotation) -> set[int]:
    used: set[int] = set()
    with rt.transaction() as session:
        for name, columns in rt.columns.items():
            table = _table(name)
            for row in session.execute(select(*(table.c[c] for c in columns))):
                used.update(key_version(b) for b in row if b is not None)
    return used


def rotate(rt: Rotation, progress: Callable[[int], None] = lambda n: None) -> RotationReport:
    with rt.transaction() as session:
        new = add_data_key(session, rt.master, FIELD)
        rt.audit(session, "keys.rotate", f"data-key/{new.version}", {})
        new_version = new.version
    rt.protector.reload()
    rewritten = _reencrypt_all(rt, progress)
    in_use = _versions_in_use(rt)
    retired: list[int] = []
    with rt.transaction() as session:
        for key in session.scalars(select(DataKey).where(DataKey.purpose == FIELD, DataKey.status == "retiring")):
            if key.version not in in_use:
                key.status = "retired"
                retired.append(key.version)
        remaining = len(in_use - {new_version})
        rt.audit(session, "keys.reencrypt", f"data-key/{new_version}", {"rewritten": rewritten, "retired": retired})
    return RotationReport(new_version, rewritten, remaining, retired)
