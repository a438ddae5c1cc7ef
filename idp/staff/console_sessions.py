"""Console sessions: a random cookie value (stored hashed) naming a `ConsoleSession` row.

The cookie carries `value.seen.mac`: `seen` is when the session was last used and `mac` binds it to the value,
so the idle timeout is checked without writing on every page view (no GET changes state), and a stolen value
without a fresh stamp is worth nothing after the idle time. The absolute lifetime is the row's `expires_at`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta

from sqlalchemy.orm import Session

from idp.db import utcnow
from idp.staff.models import ConsoleSession
from keys.protector import Protector

COOKIE = "yw_console"
SECURE_COOKIE = "__Host-yw_console"  # https: Secure, Path=/, no Domain (RFC 6265bis §4.1.3.2)


def cookie_name(https: bool) -> str:
    return SECURE_COOKIE if https else COOKIE


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def create(session: Session, person_id: str, sid: str, ttl: int) -> tuple[str, ConsoleSession]:
    value = secrets.token_urlsafe(32)
    now = utcnow()
    row = ConsoleSession(
        id_hash=_hash(value), person_id=person_id, sid=sid, expires_at=now + timedelta(seconds=ttl), factor_at=now
    )
    session.add(row)
    session.flush()
    return value, row


def stamp(protector: Protector, value: str, now: float | None = None) -> str:
    """The cookie to send: the value with a fresh keyed "last seen" stamp."""
    seen = str(int(time.time() if now is None else now))
    return f"{value}.{seen}.{protector.index('console-seen', f'{value}.{seen}')}"


def unstamp(protector: Protector, cookie: str | None, idle: int, now: float | None = None) -> str | None:
    """The session value if the cookie is genuine and was used within `idle` seconds, else None."""
    if not cookie or len(cookie) > 200:
        return None
    value, _, rest = cookie.partition(".")
    seen, _, mac = rest.partition(".")
    if not (value and seen.isdigit() and mac):
        return None
    if not hmac.compare_digest(mac, protector.index("console-seen", f"{value}.{seen}")):
        return None
    now = time.time() if now is None else now
    return value if 0 <= now - int(seen) <= idle else None


def load(session: Session, value: str | None, *, lock: bool = False) -> ConsoleSession | None:
    if not value:
        return None
    row = session.get(ConsoleSession, _hash(value), with_for_update=lock)
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    return row


def key_of(value: str) -> str:
    return _hash(value)
