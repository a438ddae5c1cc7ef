"""SMS one-time codes: 6 digits, 5 minutes, stored as a keyed hash, at most N tries, then a lockout of the
phone on the device that typed them, with exponential backoff (1, 2, 4 … minutes, at most an hour).

The lockout names the number *and* the device (a keyed hash of its browser id): wrong codes typed on another
device can't lock the number's owner out of their own sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from idp.db import new_id, utcnow
from idp.oauth.models import Lockout, OtpChallenge
from keys.protector import Protector

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)


class OtpRefused(Exception):
    def __init__(self, reason: str, locked_until: datetime | None = None, tries_left: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.locked_until, self.tries_left = reason, locked_until, tries_left


@dataclass(frozen=True)
class Issued:
    challenge_id: str
    code: str


def _code_hash(protector: Protector, challenge_id: str, code: str) -> str:
    return protector.index("otp", f"{challenge_id}:{code}")


def phone_subject(phone_bidx: str, device: str) -> str:
    # Both are keyed hashes already: 128 bits of each fit the subject column, and the number's part first lets
    # an operator find every device's lockout of one number (`phone_subjects`).
    return phone_subjects(phone_bidx) + hashlib.sha256(device.encode()).hexdigest()[:32]


def phone_subjects(phone_bidx: str) -> str:
    """The prefix every lockout subject of this number starts with, whichever device it is for."""
    return f"phone:{phone_bidx[:32]}:"


def locked_until(session: Session, subject: str) -> datetime | None:
    row = session.get(Lockout, subject)
    if row is not None and row.locked_until is not None and row.locked_until > utcnow():
        return row.locked_until
    return None


def issue(session: Session, protector: Protector, phone_e164: str, ttl: int, device: str) -> Issued:
    bidx = protector.index("phone", phone_e164)
    until = locked_until(session, phone_subject(bidx, device))
    if until is not None:
        raise OtpRefused("locked", until)
    code = f"{secrets.randbelow(1_000_000):06d}"
    challenge = OtpChallenge(id=new_id(), phone_bidx=bidx, expires_at=utcnow() + timedelta(seconds=ttl))
    challenge.code_hash = _code_hash(protector, challenge.id, code)
    challenge.phone_ct = protector.encrypt(OtpChallenge.__tablename__, "phone_ct", challenge.id, phone_e164)
    session.add(challenge)
    return Issued(challenge.id, code)


def record_failure(session: Session, subject: str, max_attempts: int) -> datetime | None:
    row = session.get(Lockout, subject)
    if row is None:
        row = Lockout(subject=subject, failures=0, lockouts=0)
        session.add(row)
    row.failures += 1
    if row.failures >= max_attempts:
        backoff = min(BACKOFF_BASE * (2**row.lockouts), BACKOFF_MAX)
        row.locked_until, row.failures, row.lockouts = utcnow() + backoff, 0, row.lockouts + 1
        return row.locked_until
    return None


def verify(session: Session, protector: Protector, challenge_id: str, code: str, max_attempts: int, device: str) -> str:
    """The verified phone (E.164); OtpRefused with a reason otherwise. Failures are counted even when the
    caller's transaction commits nothing else."""
    challenge = session.get(OtpChallenge, challenge_id, with_for_update=True)
    if challenge is None or challenge.consumed_at is not None:
        raise OtpRefused("no_challenge")
    subject = phone_subject(challenge.phone_bidx, device)
    until = locked_until(session, subject)
    if until is not None:
        raise OtpRefused("locked", until)
    if challenge.expires_at <= utcnow():
        raise OtpRefused("expired")
    if challenge.attempts >= max_attempts:
        raise OtpRefused("too_many_attempts")
    expected = challenge.code_hash
    if not (
        code.isdigit() and len(code) == 6 and hmac.compare_digest(expected, _code_hash(protector, challenge.id, code))
    ):
        challenge.attempts += 1
        until = record_failure(session, subject, max_attempts)
        if until is not None:
            challenge.consumed_at = utcnow()  # a locked-out challenge can't be retried later
            raise OtpRefused("locked", until)
        lock = session.get(Lockout, subject)
        used = max(challenge.attempts, lock.failures if lock is not None else 0)
        raise OtpRefused("wrong_code", tries_left=max(1, max_attempts - used))
    challenge.consumed_at = utcnow()
    lock = session.get(Lockout, subject)
    if lock is not None:
        lock.failures = 0
    return protector.decrypt(OtpChallenge.__tablename__, "phone_ct", challenge.id, challenge.phone_ct)
