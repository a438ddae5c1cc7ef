"""Closing an account (PIPL art. 47): the person's data is erased in one transaction.

What goes: the person row (encrypted ID number, name, phone and their blind indexes), and every row that names
the person or carries one of their blind indexes — factor bindings, face consent and template, TOTP and
recovery codes, consents, pairwise subjects, sessions, tokens, pending sign-ins, signature requests and kept
signed copies, staff roles granted to their ID number, ID claims and conflicts, and the login codes, lockouts
and rate counters keyed by their phone's index. Their tokens are denied first, their sessions ended, and the
clients they signed in to are owed a back-channel logout token each (sent after commit).

What stays: the audit trail, as the law requires (Cybersecurity Law art. 21: network logs for six months),
which is append-only and already holds no ID number, name, phone or blind index — only the person's random
internal id, which after closure maps to no one (nothing else names it, and a new registration gets a new
id) — and signature records (the Electronic Signature Law art. 24 keeps certification records), detached
from the person. The ID number and phone are free again: the same person can register afresh.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from idp import audit
from idp.authn.models import KnownSmsDevice
from idp.oauth import otp, signout
from idp.oauth.models import AuthFlow, Lockout, LoginSession, OtpChallenge, RateCounter, SessionClient
from idp.oauth.provider import Provider
from idp.proofing.models import IdClaim, IdConflict
from idp.records import people
from idp.staff.models import StaffRole
from signing.models import CscAuthorisation, SignatureRecord


def close(provider: Provider, session: Session, person_id: str) -> signout.Targets:
    """Erase the person; returns the back-channel logout tokens their clients are owed."""
    person = people.get(session, person_id)
    targets = signout.end_all(provider, session, person_id)  # subjects computed before pairwise rows go
    sids = list(session.scalars(select(LoginSession.sid).where(LoginSession.person_id == person_id)))
    id_bidx, phone_bidx = person.id_number_bidx, person.phone_bidx
    roles = 0
    if id_bidx:
        roles = int(getattr(session.execute(delete(StaffRole).where(StaffRole.id_number_bidx == id_bidx)),
                            "rowcount", 0) or 0)  # fmt: skip
        session.execute(delete(IdConflict).where(IdConflict.id_number_bidx == id_bidx))
        session.execute(delete(IdClaim).where(IdClaim.id_number_bidx == id_bidx))
    session.execute(
        delete(IdConflict).where(or_(IdConflict.holder_id == person_id, IdConflict.claimant_id == person_id))
    )
    if phone_bidx:
        session.execute(delete(OtpChallenge).where(OtpChallenge.phone_bidx == phone_bidx))
        session.execute(delete(KnownSmsDevice).where(KnownSmsDevice.phone_bidx == phone_bidx))
        session.execute(delete(Lockout).where(Lockout.subject.startswith(otp.phone_subjects(phone_bidx))))
        session.execute(delete(RateCounter).where(RateCounter.key.contains(phone_bidx)))
    session.execute(delete(Lockout).where(Lockout.subject.contains(person_id)))  # TOTP tries, by person
    if sids:
        session.execute(delete(SessionClient).where(SessionClient.sid.in_(sids)))
    # Tables that name the person without a foreign key (so no cascade reaches them).
    session.execute(delete(AuthFlow).where(AuthFlow.person_id == person_id))
    session.execute(delete(CscAuthorisation).where(CscAuthorisation.person_id == person_id))
    session.execute(update(SignatureRecord).where(SignatureRecord.person_id == person_id).values(person_id=None))
    session.delete(person)  # the rest cascades (foreign keys ON DELETE CASCADE / SET NULL)
    session.flush()
    audit.record(
        session,
        audit.Event(
            action="account.close",
            subject=person_id,
            actor=person_id,
            channel="web",
            detail={"sessions": len(sids), "notified": len(targets), "staff_roles": roles},
        ),
    )
    return targets
