"""Operator credentials for the operator API: random bearer tokens, stored only as SHA-256 hashes.

Tokens are machine-generated with 256 bits of entropy, so a fast hash is enough (a slow one would only slow
every API call). Nothing in Yiwang stores a secret that people choose.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp import audit
from idp.db import Base, UTCDateTime, new_id, utcnow
from idp.errors import Conflict, InvalidInput, NotFound, Unauthorized

PREFIX = "ywop_"


class OperatorToken(Base):
    __tablename__ = "operator_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, name: str) -> str:
    """A new operator token; the only time it exists in clear is this return value."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("an operator name must be 1 to 100 characters")
    if session.scalar(select(OperatorToken.id).where(OperatorToken.name == name)) is not None:
        raise Conflict(f"an operator named {name!r} already exists")
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(OperatorToken(name=name, token_hash=_hash(token)))
    session.flush()
    audit.record(session, audit.Event(action="operator.create", subject=name))
    return token


def revoke(session: Session, name: str) -> None:
    row = session.scalar(select(OperatorToken).where(OperatorToken.name == name, OperatorToken.revoked_at.is_(None)))
    if row is None:
        raise NotFound(f"no active operator named {name!r}")
    row.revoked_at = utcnow()
    audit.record(session, audit.Event(action="operator.revoke", subject=name))


def authenticate(session: Session, token: str | None) -> str:
    """The operator's name for a valid bearer token, else Unauthorized."""
    if not token or not token.startswith(PREFIX):
        raise Unauthorized("an operator bearer token is required")
    row = session.scalar(select(OperatorToken).where(OperatorToken.token_hash == _hash(token)))
    # The lookup is by hash, so timing reveals nothing about the token; compare anyway for clarity.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, _hash(token)):
        raise Unauthorized("the operator token is not valid")
    return row.name
