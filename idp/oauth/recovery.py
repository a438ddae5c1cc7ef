"""One-time recovery codes for the TOTP step: ten per enrolment, shown once, each usable once.

Stored as a keyed hash (HMAC under the blind-index key, `Protector.index`), not argon2: the codes are drawn
by us with 50 bits of entropy each, so no dictionary or brute force against a leaked table is feasible
without the key, and argon2's deliberate slowness would only turn every login attempt into ten slow hashes
(a denial-of-service lever) and rule out the direct lookup by hash that the unique key gives us.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from idp.db import utcnow
from idp.oauth.models import TotpRecoveryCode
from keys.protector import Protector

COUNT = 10
# Crockford-style base32 without I, L, O, U: nothing to confuse when read off paper.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
LENGTH = 10  # 10 × 5 bits


def normalize(text: str) -> str | None:
    """The code as stored (lowercase, no separators), or None when `text` cannot be a recovery code."""
    cleaned = "".join(text.split()).replace("-", "").lower()
    if len(cleaned) != LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def looks_like(text: str) -> bool:
    return normalize(text) is not None


def _hash(protector: Protector, person_id: str, code: str) -> str:
    return protector.index("totp-recovery", f"{person_id}|{code}")


def replace_all(session: Session, protector: Protector, person_id: str) -> list[str]:
    """New codes for this person (the old ones stop working); returns them formatted, to show once."""
    session.execute(delete(TotpRecoveryCode).where(TotpRecoveryCode.person_id == person_id))
    codes = ["".join(secrets.choice(ALPHABET) for _ in range(LENGTH)) for _ in range(COUNT)]
    session.add_all(TotpRecoveryCode(code_hash=_hash(protector, person_id, c), person_id=person_id) for c in codes)
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def use(session: Session, protector: Protector, person_id: str, text: str) -> bool:
    """Spend one unused code; False if it is not one of this person's, or was used already."""
    code = normalize(text)
    if code is None:
        return False
    # One conditional UPDATE: two concurrent logins with the same code cannot both succeed.
    spent = session.execute(
        update(TotpRecoveryCode)
        .where(
            TotpRecoveryCode.code_hash == _hash(protector, person_id, code),
            TotpRecoveryCode.person_id == person_id,
            TotpRecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return bool(getattr(spent, "rowcount", 0) == 1)


def remaining(session: Session, person_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(TotpRecoveryCode)
            .where(TotpRecoveryCode.person_id == person_id, TotpRecoveryCode.used_at.is_(None))
        )
        or 0
    )


def forget(session: Session, person_id: str) -> None:
    session.execute(delete(TotpRecoveryCode).where(TotpRecoveryCode.person_id == person_id))
