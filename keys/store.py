"""Where the key hierarchy is kept: wrapped data keys and sealed token signing keys, in the database.

The master key stays outside the database (see `keys.master`); everything here is useless without it.
The tables are declared on the service's one declarative base (`keys.schema`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from keys.envelope import new_data_key, unwrap_key, wrap_key
from keys.keyset import SigningKeyMaterial, generate_signing_key, published, signing_candidate
from keys.schema import Base, UTCDateTime, utcnow

FIELD = "field"
INDEX = "index"


class DataKey(Base):
    __tablename__ = "data_keys"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    purpose: Mapped[str] = mapped_column(String(16))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    # active: encrypts new values; retiring: still decrypts old ones; retired: no value uses it any more.
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(8))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def material(self) -> SigningKeyMaterial:
        return SigningKeyMaterial(
            kid=self.kid,
            alg=self.alg,
            public_jwk=self.public_jwk,
            sealed_private_key=self.sealed_private_key,
            created_at=self.created_at,
            retired_at=self.retired_at,
        )


def _label(version: int) -> str:
    return f"data-key/{version}"


def add_data_key(session: Session, master: bytes, purpose: str) -> DataKey:
    """Create the next data-key version for `purpose`, active at once."""
    last = session.scalar(select(DataKey.version).order_by(DataKey.version.desc()).limit(1)) or 0
    version = last + 1
    for old in session.scalars(select(DataKey).where(DataKey.purpose == purpose, DataKey.status == "active")):
        old.status = "retiring"
    row = DataKey(
        version=version,
        purpose=purpose,
        wrapped=wrap_key(master, new_data_key(), _label(version)),
        status="active",
    )
    session.add(row)
    session.flush()
    return row


def unwrap(master: bytes, row: DataKey) -> bytes:
    return unwrap_key(master, row.wrapped, _label(row.version))


def ensure_keys(session: Session, master: bytes, token_alg: str) -> list[str]:
    """Create whatever key is missing (first run). Returns what was created, for the start-up message."""
    created = []
    for purpose in (FIELD, INDEX):
        if session.scalar(select(DataKey).where(DataKey.purpose == purpose).limit(1)) is None:
            add_data_key(session, master, purpose)
            created.append(f"{purpose} data key")
    for alg in sorted({token_alg, "ES256"}):
        if signing_candidate(signing_materials(session), alg) is None:
            add_signing_key(session, master, alg)
            created.append(f"{alg} token signing key")
    return created


def signing_materials(session: Session) -> list[SigningKeyMaterial]:
    return [row.material() for row in session.scalars(select(SigningKey))]


def add_signing_key(session: Session, master: bytes, alg: str, now: datetime | None = None) -> SigningKey:
    """Rotate: a new key for `alg` signs from now on; the previous one is retired but stays published."""
    now = now or utcnow()
    for old in session.scalars(select(SigningKey).where(SigningKey.alg == alg, SigningKey.retired_at.is_(None))):
        old.retired_at = now
    material = generate_signing_key(alg, master, now)
    row = SigningKey(
        kid=material.kid,
        alg=alg,
        public_jwk=material.public_jwk,
        sealed_private_key=material.sealed_private_key,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def jwks(session: Session, now: datetime, max_token_lifetime: timedelta) -> dict[str, list[dict[str, Any]]]:
    """The public JWK set: live keys and retired keys whose tokens may not have expired yet."""
    live = published(signing_materials(session), now, max_token_lifetime)
    return {"keys": [k.public_jwk for k in sorted(live, key=lambda k: k.created_at, reverse=True)]}


def drop_expired_signing_keys(session: Session, now: datetime, max_token_lifetime: timedelta) -> int:
    """Delete retired keys no token can depend on any more; returns how many."""
    gone = 0
    for row in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_not(None))):
        assert row.retired_at is not None
        if row.retired_at + max_token_lifetime <= now:
            session.delete(row)
            gone += 1
    return gone
