"""Leaves, signed tree heads (STH) and the audit signing key.

An STH is a JWS (compact serialisation, ES256, `typ: audit-sth+jws`) over canonical JSON
`{"log": issuer, "tree_size": n, "root_hash": hex, "timestamp": ms}`, signed with a key of its own kept in
`audit_keys` (sealed under the master key like the token signing keys, but never rotated out or dropped:
every tree head ever published must stay verifiable). Its public JWK is served at `/audit/v1/keys`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

import keys
from idp.db import Base, UTCDateTime, utcnow

ALG = "ES256"
TYP = "audit-sth+jws"
# Leaves per tile: the hash of every aligned perfect subtree of this many leaves is stored, so a proof reads
# about size/TILE tile hashes and at most two tiles' leaves instead of every leaf.
TILE = 256


class AuditLeaf(Base):
    """An event's place in the tree: leaf `idx` (0-based) and the hash of its content when it was sealed."""

    __tablename__ = "audit_leaves"

    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(ForeignKey("audit_events.id"), unique=True)
    leaf_hash: Mapped[str] = mapped_column(String(64))


class AuditTile(Base):
    """MTH of leaves [idx * TILE, (idx + 1) * TILE), stored when the sequencer completes the tile."""

    __tablename__ = "audit_tiles"

    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tile_hash: Mapped[str] = mapped_column(String(64))


class AuditTreeHead(Base):
    __tablename__ = "audit_tree_heads"

    tree_size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[int] = mapped_column(BigInteger)  # milliseconds since the epoch, as signed
    kid: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    # The roots of the tree's perfect subtrees (hex): where the sequencer resumes. Not trusted by `verify`.
    frontier: Mapped[list[str]] = mapped_column(JSON)


class AuditKey(Base):
    __tablename__ = "audit_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def material(self) -> keys.SigningKeyMaterial:
        return keys.SigningKeyMaterial(
            kid=self.kid,
            alg=ALG,
            public_jwk=self.public_jwk,
            sealed_private_key=self.sealed_private_key,
            created_at=self.created_at,
        )


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: str
    timestamp: int
    signature: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": self.timestamp,
            "signature": self.signature,
        }


def public(row: AuditTreeHead) -> TreeHead:
    return TreeHead(row.tree_size, row.root_hash, row.timestamp, row.signature)


def signing_key(session: Session, master: bytes) -> ECKey:
    """The newest audit key, made on first use (by the sequencer, which holds the sealing lock)."""
    row = session.scalars(select(AuditKey).order_by(AuditKey.created_at.desc()).limit(1)).first()
    if row is None:
        material = keys.generate_signing_key(ALG, master, utcnow())
        row = AuditKey(
            kid=material.kid,
            public_jwk=material.public_jwk,
            sealed_private_key=material.sealed_private_key,
            created_at=material.created_at,
        )
        session.add(row)
        session.flush()
    key = keys.load_private_key(row.material(), master)
    assert isinstance(key, ECKey)
    return key


def jwks(session: Session) -> dict[str, list[dict[str, Any]]]:
    return {"keys": [row.public_jwk for row in session.scalars(select(AuditKey).order_by(AuditKey.created_at))]}


def _payload(log: str, tree_size: int, root_hash: str, timestamp: int) -> bytes:
    body = {"log": log, "tree_size": tree_size, "root_hash": root_hash, "timestamp": timestamp}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(key: ECKey, log: str, tree_size: int, root_hash: str, timestamp: int) -> str:
    header = {"alg": ALG, "kid": key.kid, "typ": TYP}
    return jws.serialize_compact(header, _payload(log, tree_size, root_hash, timestamp), key, algorithms=[ALG])


def check(head: TreeHead, log: str, public_keys: dict[str, ECKey]) -> str | None:
    """None if `head` is signed by one of `public_keys` and the signature covers exactly its fields."""
    try:
        compact = jws.extract_compact(head.signature.encode())
    except (JoseError, ValueError):
        return "its signature is not a JWS"
    header = compact.protected
    key = public_keys.get(str(header.get("kid")))
    if header.get("alg") != ALG or header.get("typ") != TYP or key is None:
        return "it is signed with an unknown key or algorithm"
    try:
        jws.deserialize_compact(head.signature, key, algorithms=[ALG])
    except (JoseError, ValueError):
        return "its signature does not verify"
    if compact.payload != _payload(log, head.tree_size, head.root_hash, head.timestamp):
        return "its signature covers different values"
    return None


def trusted_keys(session: Session, master: bytes) -> dict[str, ECKey]:
    """Public audit keys whose private half really is sealed under our master key.

    Someone with write access to the database but not the master key could add a key of their own and sign
    forged tree heads with it; opening each sealed private key and comparing it with the stored public one
    stops that.
    """
    trusted: dict[str, ECKey] = {}
    for row in session.scalars(select(AuditKey)):
        try:
            private = keys.load_private_key(row.material(), master)
        except keys.DecryptionError:
            continue
        public_jwk = {k: v for k, v in private.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")}
        if all(row.public_jwk.get(k) == v for k, v in public_jwk.items()) and private.thumbprint() == row.kid:
            trusted[row.kid] = ECKey.import_key(row.public_jwk)
    return trusted
