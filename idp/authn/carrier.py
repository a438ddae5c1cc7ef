"""Method: the carrier three-element check (real name, loa:2) — the phone this person signed in with is
registered to that name and ID number at its carrier: a proof of ownership."""

from __future__ import annotations

from anyio import from_thread

from adapters.errors import AdapterError
from idp.authn import fields, stepup
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Outcome


def submit(
    engine: Engine, flow_id: str, browser: str | None, cookie: str | None, ip: str, raw_name: str, raw_id: str
) -> Outcome:
    checked = fields.identity(raw_name, raw_id)
    if isinstance(checked, Invalid):
        return checked
    name, number = checked
    carrier = engine.adapters.carrier
    if carrier is None:
        return Invalid("provider_down", status=503)
    with engine.reading() as session:
        person = stepup.context(engine, session, flow_id, browser, cookie).person
        phone = (
            engine.protector.decrypt("persons", "phone_ct", person.id, person.phone_ct)
            if person.phone_ct is not None and person.phone_verified
            else None
        )
    if phone is None:
        return Invalid("carrier_needs_phone")
    refused = stepup.attempt(engine, "carrier", person.id, ip)
    if refused is not None:
        return refused
    try:
        result = from_thread.run(lambda: carrier.verify(name, number, phone))
    except AdapterError:
        stepup.record_attempt(engine, None, person.id, "carrier", "unavailable")
        return Invalid("provider_down", status=503)
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie, lock=True)
        if result.matched is None:
            stepup.record_attempt(engine, session, ctx.person.id, "carrier", "undecided")
            return Invalid("carrier_undecided")  # "no record" proves nothing either way: not an outage
        if not result.matched:
            stepup.record_attempt(engine, session, ctx.person.id, "carrier", "no_match")
            return Invalid("no_match")
        return stepup.prove(engine, session, ctx, source="carrier", id_number=number, name=name)
