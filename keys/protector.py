"""Field-level protection of personal data: AES-256-GCM bound to table/column/row, plus blind indexes.

A `Protector` is built from the data keys in the database and kept for the life of the process; when it meets
a key version it has not loaded (another process rotated), it reloads once instead of failing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import Connection, select

from keys import envelope
from keys.envelope import FieldCipher, blind_index
from keys.master import MasterKeyError
from keys.store import FIELD, INDEX, DataKey, unwrap


def aad(table: str, column: str, row_id: str) -> str:
    return f"{table}/{column}/{row_id}"


class Protector:
    # How long a process keeps encrypting under a key version after another process rotated.
    REFRESH_SECONDS = 30.0

    def __init__(self, load: Callable[[], tuple[FieldCipher, bytes]]) -> None:
        self._load = load
        self._cipher, self._index_key = load()
        self._loaded_at = time.monotonic()

    @classmethod
    def from_database(cls, connect: Callable[[], AbstractContextManager[Connection]], master: bytes) -> Protector:
        """Keys read through `connect`, which must give a read-only connection: a reload can happen inside a
        caller's write transaction on the same thread, and must neither wait for nor block it."""

        def load() -> tuple[FieldCipher, bytes]:
            with connect() as conn:
                rows = [DataKey(**r._mapping) for r in conn.execute(select(DataKey.__table__))]
            field = {r.version: unwrap(master, r) for r in rows if r.purpose == FIELD}
            active = [r.version for r in rows if r.purpose == FIELD and r.status == "active"]
            index = [r for r in rows if r.purpose == INDEX]
            if not active or not index:
                raise MasterKeyError("data keys are missing: run `yiwang init`")
            return FieldCipher(field, max(active)), unwrap(master, index[0])

        return cls(load)

    def reload(self) -> None:
        self._cipher, self._index_key = self._load()
        self._loaded_at = time.monotonic()

    @property
    def active_version(self) -> int:
        return self._cipher.active

    def encrypt(self, table: str, column: str, row_id: str, value: str) -> bytes:
        if time.monotonic() - self._loaded_at > self.REFRESH_SECONDS:
            self.reload()
        return self._cipher.encrypt(value, aad(table, column, row_id))

    def decrypt(self, table: str, column: str, row_id: str, blob: bytes) -> str:
        if envelope.key_version(blob) not in self._cipher.versions:
            self.reload()
        return self._cipher.decrypt(blob, aad(table, column, row_id))

    def index(self, domain: str, normalized: str) -> str:
        return blind_index(self._index_key, domain, normalized)
