"""TOTP (RFC 6238, via pyotp) as a second factor.

Enrolment never touches a working factor until it is proven: `start_enrolment` (a POST) stores a *pending*
secret; the page shows it (as often as it is reloaded: showing changes nothing); `confirm_enrolment` swaps
it in only after a correct code, and issues recovery codes. Verification has replay protection (a code's
time step can't be used twice) and the same lockout as SMS codes; `verify_second_factor` is the login step,
which also takes a recovery code. Disabling needs a current code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from sqlalchemy import delete
from sqlalchemy.orm import Session

from idp import audit
from idp.db import utcnow
from idp.oauth import recovery
from idp.oauth.models import TotpFactor, TotpPending
from idp.oauth.otp import OtpRefused, locked_until, record_failure
from keys.protector import Protector

TABLE = TotpFactor.__tablename__
PENDING = TotpPending.__tablename__
STEP = 30
# A pending secret not confirmed within this time must be started again (the QR may have been seen by others).
PENDING_TTL = timedelta(minutes=30)


@dataclass(frozen=True)
class Pending:
    uri: str
    secret: str


def _subject(person_id: str) -> str:
    return f"totp:{person_id}"


lockout_subject = _subject  # the key of the person's authenticator lockout (operators unlock it)


def is_enrolled(session: Session, person_id: str) -> bool:
    row = session.get(TotpFactor, person_id)
    return row is not None and row.confirmed


def pending(session: Session, protector: Protector, person_id: str, issuer: str, label: str) -> Pending | None:
    """The enrolment in progress, to show (read only), or None if there is none or it has expired."""
    row = session.get(TotpPending, person_id)
    if row is None or row.created_at + PENDING_TTL <= utcnow():
        return None
    secret = protector.decrypt(PENDING, "secret_ct", person_id, row.secret_ct)
    return Pending(pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=issuer), secret)


def start_enrolment(session: Session, protector: Protector, person_id: str) -> bool:
    """A new pending secret (replacing an unconfirmed one). False when a factor is already enrolled: it must
    be disabled, with a current code, before another can be enrolled."""
    if is_enrolled(session, person_id):
        return False
    secret = pyotp.random_base32()
    row = session.get(TotpPending, person_id, with_for_update=True)
    if row is None:
        row = TotpPending(person_id=person_id)
        session.add(row)
    row.secret_ct = protector.encrypt(PENDING, "secret_ct", person_id, secret)
    row.created_at = utcnow()
    return True


def _matching_counter(secret: str, code: str) -> int | None:
    if not (code.isdigit() and len(code) == 6):
        return None
    now = int(time.time()) // STEP
    for counter in (now - 1, now, now + 1):  # one step of clock drift either way
        if pyotp.TOTP(secret).generate_otp(counter) == code:
            return counter
    return None


def confirm_enrolment(
    session: Session, protector: Protector, person_id: str, code: str, max_attempts: int
) -> list[str] | OtpRefused:
    """Swap the pending secret in after a correct code; returns the new recovery codes (to show once)."""
    row = session.get(TotpPending, person_id, with_for_update=True)
    if row is None or row.created_at + PENDING_TTL <= utcnow() or is_enrolled(session, person_id):
        return OtpRefused("no_enrolment")
    until = locked_until(session, _subject(person_id))
    if until is not None:
        return OtpRefused("locked", until)
    secret = protector.decrypt(PENDING, "secret_ct", person_id, row.secret_ct)
    counter = _matching_counter(secret, code.strip())
    if counter is None:
        until = record_failure(session, _subject(person_id), max_attempts)
        return OtpRefused("locked", until) if until else OtpRefused("wrong_code")
    factor = session.get(TotpFactor, person_id, with_for_update=True)
    if factor is None:
        factor = TotpFactor(person_id=person_id)
        session.add(factor)
    factor.secret_ct = protector.encrypt(TABLE, "secret_ct", person_id, secret)
    factor.confirmed, factor.last_counter, factor.created_at = True, counter, utcnow()
    session.delete(row)
    codes = recovery.replace_all(session, protector, person_id)
    audit.record(session, audit.Event(action="totp.enrol", subject=person_id, actor=person_id, channel="web"))
    return codes


def verify(session: Session, protector: Protector, person_id: str, code: str, max_attempts: int) -> OtpRefused | None:
    """None when the code is right (and not replayed); the refusal otherwise (failures are counted)."""
    row = session.get(TotpFactor, person_id, with_for_update=True)
    if row is None or not row.confirmed:
        return OtpRefused("no_factor")
    until = locked_until(session, _subject(person_id))
    if until is not None:
        return OtpRefused("locked", until)
    secret = protector.decrypt(TABLE, "secret_ct", person_id, row.secret_ct)
    counter = _matching_counter(secret, code)
    if counter is None or counter <= row.last_counter:
        until = record_failure(session, _subject(person_id), max_attempts)
        return OtpRefused("locked", until) if until else OtpRefused("wrong_code")
    row.last_counter = counter
    return None


def verify_second_factor(
    session: Session, protector: Protector, person_id: str, code: str, max_attempts: int
) -> OtpRefused | None:
    """The TOTP login step: a current authenticator code, or one unused recovery code (spent by this).
    Both count failures against the same lockout."""
    code = code.strip()
    if not recovery.looks_like(code):
        return verify(session, protector, person_id, code, max_attempts)
    if not is_enrolled(session, person_id):
        return OtpRefused("no_factor")
    until = locked_until(session, _subject(person_id))
    if until is not None:
        return OtpRefused("locked", until)
    if not recovery.use(session, protector, person_id, code):
        until = record_failure(session, _subject(person_id), max_attempts)
        return OtpRefused("locked", until) if until else OtpRefused("wrong_code")
    left = recovery.remaining(session, person_id)
    audit.record(
        session,
        audit.Event(
            action="totp.recovery_code", subject=person_id, actor=person_id, channel="web", detail={"remaining": left}
        ),
    )
    return None


def disable(session: Session, protector: Protector, person_id: str, code: str, max_attempts: int) -> OtpRefused | None:
    """Remove the factor (and its recovery codes) after a current code: an authenticator code, or a recovery
    code for someone who lost the device."""
    refused = verify_second_factor(session, protector, person_id, code, max_attempts)
    if refused is not None:
        return refused
    session.execute(delete(TotpFactor).where(TotpFactor.person_id == person_id))
    session.execute(delete(TotpPending).where(TotpPending.person_id == person_id))
    recovery.forget(session, person_id)
    audit.record(session, audit.Event(action="totp.disable", subject=person_id, actor=person_id, channel="web"))
    return None
