"""Method: UnionPay bank-card four-element verification (real name, loa:2). Only a masked card is kept."""

from __future__ import annotations

from anyio import from_thread

from adapters.errors import AdapterError
from idp.authn import fields, sms, stepup
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Outcome
from idp.proofing import service


def submit(
    engine: Engine,
    flow_id: str,
    browser: str | None,
    cookie: str | None,
    ip: str,
    *,
    raw_name: str,
    raw_id: str,
    raw_card: str,
    raw_phone: str,
) -> Outcome:
    checked = fields.identity(raw_name, raw_id)
    card, phone = fields.bank_card(raw_card), sms.parse_phone(raw_phone)
    for wrong in (checked, card, phone):
        if isinstance(wrong, Invalid):
            return wrong
    assert not isinstance(checked, Invalid) and isinstance(card, str) and isinstance(phone, str)
    name, number = checked
    verifier = engine.adapters.bank_card
    if verifier is None:
        return Invalid("provider_down", status=503)
    with engine.reading() as session:
        person_id = stepup.context(engine, session, flow_id, browser, cookie).person.id
    refused = stepup.attempt(engine, "unionpay", person_id, ip)
    if refused is not None:
        return refused
    try:
        result = from_thread.run(verifier.verify, name, number, card, phone)
    except AdapterError:
        stepup.record_attempt(engine, None, person_id, "unionpay", "unavailable")
        return Invalid("provider_down", status=503)
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie, lock=True)
        if result.matched is None:
            stepup.record_attempt(engine, session, ctx.person.id, "unionpay", "undecided")
            return Invalid("undecided", status=503)
        if not result.matched:
            stepup.record_attempt(engine, session, ctx.person.id, "unionpay", "no_match")
            return Invalid("no_match")
        outcome = stepup.prove(engine, session, ctx, source="unionpay", id_number=number, name=name)
        if not isinstance(outcome, Invalid):
            service.record_bank_card(session, ctx.person.id, card)
        return outcome
