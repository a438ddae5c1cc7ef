"""Method: name and ID number checked with the population registry (real name, loa:2)."""

from __future__ import annotations

from anyio import from_thread

from adapters.errors import AdapterError
from idp.authn import fields, stepup
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Outcome


def submit(
    engine: Engine, flow_id: str, browser: str | None, cookie: str | None, raw_name: str, raw_id: str
) -> Outcome:
    name, number = fields.name(raw_name), fields.id_number(raw_id)
    for checked in (name, number):
        if isinstance(checked, Invalid):
            return checked
    assert isinstance(name, str) and isinstance(number, str)
    registry = engine.adapters.registry
    if registry is None:
        return Invalid("provider_down", status=503)
    with engine.reading() as session:
        stepup.context(engine, session, flow_id, browser, cookie)
    try:
        result = from_thread.run(lambda: registry.verify(name, number, include_photo=False))
    except AdapterError:
        return Invalid("provider_down", status=503)
    if not result.matched:
        return Invalid("no_match")
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie, lock=True)
        return stepup.prove(engine, session, ctx, level=2, source="registry", face=False, id_number=number, name=name)
