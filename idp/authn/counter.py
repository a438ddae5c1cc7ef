"""Method: in person at a service-hall counter (loa:3, the non-face way to become a real person).

The citizen asks for a one-time counter code within their sign-in and shows it (or its QR) at any hall's
counter. Staff check the ID card in person and redeem the code (`redeem`, used by the counter front end);
the ID number on the card is bound to the person by the strongest proof there is (it takes a number over from
any other binding, idp/proofing/strength.py), their level becomes real person with method `counter`, and the
hall and the staff member are in the audit trail.
Back on their device, the citizen continues and the journey goes on at that level.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.authn import fields, stepup
from idp.authn.engine import Engine
from idp.authn.models import CounterCode
from idp.authn.outcome import Invalid, Outcome, Shown
from idp.db import utcnow
from idp.errors import Conflict
from idp.proofing import binding

DIGITS = 8


def _hash(engine: Engine, code: str) -> str:
    return engine.protector.index("counter_code", code)


def issue(engine: Engine, flow_id: str, browser: str | None, cookie: str | None) -> Shown | Invalid:
    """A new code for this journey (earlier unredeemed ones of the journey stop working)."""
    code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie, lock=True)
        for old in session.scalars(select(CounterCode).where(CounterCode.flow_id == ctx.flow.id)):
            if old.redeemed_at is None:
                old.expires_at = utcnow()
        expires = utcnow() + timedelta(seconds=engine.settings.counter_code_ttl)
        session.add(
            CounterCode(code_hash=_hash(engine, code), flow_id=ctx.flow.id, person_id=ctx.person.id, expires_at=expires)
        )
    return Shown({"code": code, "expires_at": expires})


def waiting(engine: Engine, session: Session, code: str) -> CounterCode | None:
    """The unredeemed, unexpired code as staff typed it (read-only: a counter front end looks before it acts)."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == DIGITS):
        return None
    row = session.get(CounterCode, _hash(engine, code))
    if row is None or row.redeemed_at is not None or row.expires_at <= utcnow():
        return None
    return row


def redeem(
    engine: Engine, session: Session, code: str, *, hall: str, staff: str, name: str, id_number: str
) -> str | Invalid:
    """Staff checked the ID card (its `name` and `id_number`) against the person in front of them: the number
    is bound to the person who asked for `code`, who becomes a real person (`counter`). Returns the person id."""
    checked = fields.identity(name, id_number)
    if isinstance(checked, Invalid):
        return checked
    checked_name, number = checked
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == DIGITS):
        return Invalid("counter_code_format", field="code")
    if hall not in {h.id for h in engine.settings.halls}:
        return Invalid("unknown_hall", field="hall")
    row = session.get(CounterCode, _hash(engine, code), with_for_update=True)
    if row is None or row.redeemed_at is not None or row.expires_at <= utcnow():
        return Invalid("counter_code_unknown", field="code")
    try:
        with session.begin_nested():
            binding.prove(
                session,
                engine.protector,
                row.person_id,
                id_number=number,
                name=checked_name,
                source="counter",
                channel="counter",
                deny_until=engine.deny_until(),
            )
    except Conflict:
        # The person already holds a different number: staff must look into it, nothing is changed.
        return Invalid("binding_refused", status=409)
    row.redeemed_at, row.hall, row.staff = utcnow(), hall, staff
    audit.record(
        session,
        audit.Event(
            action="proofing.counter",
            subject=row.person_id,
            actor=staff,
            channel="counter",
            detail={"hall": hall, "flow": row.flow_id},
        ),
    )
    return row.person_id


def proceed(engine: Engine, flow_id: str, browser: str | None, cookie: str | None) -> Outcome:
    """The citizen continues after the counter: only a code of this journey redeemed by staff counts."""
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie, lock=True)
        redeemed = session.scalars(
            select(CounterCode).where(CounterCode.flow_id == ctx.flow.id, CounterCode.redeemed_at.is_not(None))
        ).first()
        if redeemed is None or redeemed.person_id != ctx.person.id:
            return Invalid("counter_not_yet")
        session.refresh(ctx.person)
        engine.raise_session(session, ctx.flow, ctx.login, face=False, counter=True, channel=ctx.channel)
        return engine.advance(session, ctx.flow, ctx.login)
