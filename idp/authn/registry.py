"""Method: name and ID number matched by the population registry — a claim, not a proof.

A match is knowledge anyone with a leaked record has: it binds nothing and raises no level. It is remembered
as this person's claim (what the next ownership check — carrier, bank card, face, Alipay, counter — is about)
and the page asks for one of those.
"""

from __future__ import annotations

from anyio import from_thread

from adapters.errors import AdapterError
from idp.authn import fields, stepup
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Outcome, Shown
from idp.errors import Conflict
from idp.proofing import binding


def submit(
    engine: Engine, flow_id: str, browser: str | None, cookie: str | None, ip: str, raw_name: str, raw_id: str
) -> Outcome:
    checked = fields.identity(raw_name, raw_id)
    if isinstance(checked, Invalid):
        return checked
    name, number = checked
    registry = engine.adapters.registry
    if registry is None:
        return Invalid("provider_down", status=503)
    with engine.reading() as session:
        person_id = stepup.context(engine, session, flow_id, browser, cookie).person.id
    refused = stepup.attempt(engine, "registry", person_id, ip)
    if refused is not None:
        return refused
    try:
        result = from_thread.run(lambda: registry.verify(name, number, include_photo=False))
    except AdapterError:
        stepup.record_attempt(engine, None, person_id, "registry", "unavailable")
        return Invalid("provider_down", status=503)
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie, lock=True)
        if not result.matched:
            stepup.record_attempt(engine, session, ctx.person.id, "registry", "no_match")
            return Invalid("no_match")
        try:
            binding.record_claim(session, engine.protector, ctx.person.id, name=name, id_number=number)
        except Conflict:
            stepup.record_attempt(engine, session, ctx.person.id, "registry", "conflict")
            return Invalid("binding_refused", status=409)
        stepup.record_attempt(engine, session, ctx.person.id, "registry", "claimed")
        return Shown({"claimed": True})
