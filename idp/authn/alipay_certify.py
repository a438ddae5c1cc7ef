"""Method: Alipay certify with biz_code FACE — a real-name and a live-face check at once (loa:3)."""

from __future__ import annotations

import json
import secrets

from anyio import from_thread

from adapters.errors import AdapterError
from idp.authn import fields, journey, stepup
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Outcome, Redirect


def start(
    engine: Engine, flow_id: str, browser: str | None, cookie: str | None, ip: str, raw_name: str, raw_id: str
) -> Outcome:
    checked = fields.identity(raw_name, raw_id)
    if isinstance(checked, Invalid):
        return checked
    name, number = checked
    alipay = engine.adapters.alipay
    if alipay is None:
        return Invalid("provider_down", status=503)
    with engine.reading() as session:
        person_id = stepup.context(engine, session, flow_id, browser, cookie).person.id
    refused = stepup.attempt(engine, "alipay", person_id, ip)  # every initialise is a paid call
    if refused is not None:
        return refused
    return_url = f"{engine.settings.issuer}/stepup/alipay/return?flow={flow_id}"
    order = secrets.token_hex(16)
    try:
        certify_id = from_thread.run(
            lambda: alipay.certify_initialize(order, name, number, return_url, biz_code="FACE")
        )
    except AdapterError:
        return Invalid("provider_down", status=503)
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie, lock=True)
        pending = json.dumps({"name": name, "id_number": number, "certify_id": certify_id})
        journey.update(ctx.flow, **{journey.CERTIFY_PENDING: engine.seal(ctx.flow, "pending", pending)})
    return Redirect(alipay.certify_url(certify_id))


def finish(engine: Engine, flow_id: str, browser: str | None, cookie: str | None) -> Outcome:
    """Back from Alipay (a provider callback): ask Alipay whether the check passed; single use."""
    alipay = engine.adapters.alipay
    with engine.reading() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie)
        sealed = ctx.flow.params.get(journey.CERTIFY_PENDING)
    if not sealed:
        return Invalid("nothing_pending")
    if alipay is None:
        return Invalid("provider_down", status=503)
    pending: dict[str, str] = json.loads(engine.unseal(ctx.flow, "pending", sealed))
    try:
        passed = from_thread.run(alipay.certify_query, pending["certify_id"])
    except AdapterError:
        return Invalid("provider_down", status=503)
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie, lock=True)
        if ctx.flow.params.get(journey.CERTIFY_PENDING) != sealed:
            return Invalid("nothing_pending")
        journey.update(ctx.flow, **{journey.CERTIFY_PENDING: None})
        if not passed:
            stepup.record_attempt(engine, session, ctx.person.id, "alipay", "no_match")
            return Invalid("no_match")
        return stepup.prove(
            engine, session, ctx, source="alipay_certify", id_number=pending["id_number"], name=pending["name"]
        )
