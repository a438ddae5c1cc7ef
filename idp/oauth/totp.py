"""TOTP (RFC 6238, via pyotp) as a second factor: enrolment with confirmation, verification with replay
protection (a code's time step can't be used twice) and the same lockout as SMS codes."""

from __future__ import annotations

import time

import pyotp
from sqlalchemy.orm import Session

from idp.oauth.models import TotpFactor
from idp.oauth.otp import OtpRefused, locked_until, record_failure
from keys.protector import Protector

TABLE = TotpFactor.__tablename__
STEP = 30


def is_enrolled(session: Session, person_id: str) -> bool:
    row = session.get(TotpFactor, person_id)
    return row is not None and row.confirmed


def begin_enrolment(session: Session, protector: Protector, person_id: str, issuer: str, label: str) -> str:
    """A new (unconfirmed) secret; returns the otpauth:// URI to show as text or QR code."""
    secret = pyotp.random_base32()
    row = session.get(TotpFactor, person_id)
    if row is None:
        row = TotpFactor(person_id=person_id)
        session.add(row)
    row.secret_ct = protector.encrypt(TABLE, "secret_ct", person_id, secret)
    row.confirmed, row.last_counter = False, 0
    return pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=issuer)


def _matching_counter(secret: str, code: str) -> int | None:
    if not (code.isdigit() and len(code) == 6):
        return None
    now = int(time.time()) // STEP
    for counter in (now - 1, now, now + 1):  # one step of clock drift either way
        if pyotp.TOTP(secret).generate_otp(counter) == code:
            return counter
    return None


def verify(session: Session, protector: Protector, person_id: str, code: str, max_attempts: int) -> OtpRefused | None:
    """None when the code is right (and not replayed); the refusal otherwise (failures are counted)."""
    row = session.get(TotpFactor, person_id, with_for_update=True)
    if row is None:
        return OtpRefused("no_factor")
    subject = f"totp:{person_id}"
    until = locked_until(session, subject)
    if until is not None:
        return OtpRefused("locked", until)
    secret = protector.decrypt(TABLE, "secret_ct", person_id, row.secret_ct)
    counter = _matching_counter(secret, code)
    if counter is None or counter <= row.last_counter:
        until = record_failure(session, subject, max_attempts)
        return OtpRefused("locked", until) if until else OtpRefused("wrong_code")
    row.last_counter = counter
    return None


def confirm(session: Session, protector: Protector, person_id: str, code: str, max_attempts: int) -> OtpRefused | None:
    refused = verify(session, protector, person_id, code, max_attempts)
    if refused is None:
        row = session.get(TotpFactor, person_id)
        assert row is not None
        row.confirmed = True
    return refused
