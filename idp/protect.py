"""Field-level protection of personal data: AES-256-GCM bound to table/column/row, plus blind indexes.

A `Protector` is built from the data keys in the database and kept for the life of the process; when it meets
a key version it has not loaded (another process rotated), it reloads once instead of failing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine, select

import keys
from idp.db import read_only
from idp.keystore import FIELD, INDEX, DataKey, unwrap

# Every encrypted column, by table. `keys rotate` re-encrypts exactly these.
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "persons": ("id_number_ct", "name_ct", "phone_ct"),
    "social_security_cards": ("card_number_ct",),
    "otp_challenges": ("phone_ct",),
    "totp_factors": ("secret_ct",),
    "totp_pending": ("secret_ct",),
    "face_templates": ("template_ct",),
}


def aad(table: str, column: str, row_id: str) -> str:
    return f"{table}/{column}/{row_id}"


class Protector:
    # How long a process keeps encrypting under a key version after another process rotated.
    REFRESH_SECONDS = 30.0

    def __init__(self, load: Callable[[], tuple[keys.FieldCipher, bytes]]) -> None:
        self._load = load
        self._cipher, self._index_key = load()
        self._loaded_at = time.monotonic()

    @classmethod
    def from_database(cls, engine: Engine, master: bytes) -> Protector:
        def load() -> tuple[keys.FieldCipher, bytes]:
            # Read-only: a reload can happen inside a caller's write transaction on the same thread.
            with read_only(engine) as conn:
                rows = [DataKey(**r._mapping) for r in conn.execute(select(DataKey.__table__))]
            field = {r.version: unwrap(master, r) for r in rows if r.purpose == FIELD}
            active = [r.version for r in rows if r.purpose == FIELD and r.status == "active"]
            index = [r for r in rows if r.purpose == INDEX]
            if not active or not index:
                raise keys.MasterKeyError("data keys are missing: run `yiwang init`")
            return keys.FieldCipher(field, max(active)), unwrap(master, index[0])

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
        if keys.envelope.key_version(blob) not in self._cipher.versions:
            self.reload()
        return self._cipher.decrypt(blob, aad(table, column, row_id))

    def index(self, domain: str, normalized: str) -> str:
        return keys.blind_index(self._index_key, domain, normalized)
