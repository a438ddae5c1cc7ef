"""Method: sign in with Alipay (loa:1, RFC 8176 `swk`). An unknown Alipay account is linked only to a person
who proves their phone in the same journey (see `sms.submit`)."""

from __future__ import annotations

from anyio import from_thread

from adapters.errors import AdapterError
from idp.authn import journey
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Redirect, Refused, Result, Shown, Step
from idp.oauth import totp
from idp.proofing import service
from idp.records.models import Person


def start(engine: Engine, flow_id: str, browser: str | None, state_mac: str) -> Redirect | Refused:
    alipay = engine.adapters.alipay
    if alipay is None:
        return Refused("alipay_off")
    with engine.reading() as session:
        flow = engine.journey(session, flow_id, browser)
    callback = f"{engine.settings.issuer}/login/alipay/callback"
    return Redirect(alipay.authorize_url(f"{flow.id}.{state_mac}", callback))


def callback(engine: Engine, flow_id: str, browser: str | None, auth_code: str) -> Result:
    alipay = engine.adapters.alipay
    if alipay is None or not auth_code:
        return Result(Invalid("provider_down", status=400))
    with engine.reading() as session:
        engine.journey(session, flow_id, browser)
    try:
        token = from_thread.run(alipay.exchange_code, auth_code)
    except AdapterError:
        return Result(Invalid("provider_down", status=503))
    with engine.unit() as session:
        flow = engine.journey(session, flow_id, browser, lock=True)
        person_id = service.alipay_person(session, engine.protector, token.account)
        if person_id is None:
            # Unknown account: it may only be linked to a person who proves themselves in this same journey.
            journey.update(flow, **{journey.ALIPAY_PENDING: engine.seal(flow, "alipay", token.account)})
            return Result(Shown({"notice": "alipay_link"}))
        person = session.get(Person, person_id)
        if person is None:
            return Result(Refused("account_gone"))
        if totp.is_enrolled(session, person_id):
            flow.person_id, flow.pending_factors = person_id, ["totp"]
            # RFC 8176 `swk`: the Alipay app approves with credentials held in software on the person's phone.
            journey.update(flow, **{journey.AMR: "swk"})
            return Result(Step("totp", flow.id))
        cookie, login = engine.sign_in(session, flow, person, ["swk"])
        return Result(engine.advance(session, flow, login), cookie, not engine.shared_screen(flow))
