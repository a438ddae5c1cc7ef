"""Method: the TOTP second factor, asked after the first factor of a person who enrolled an authenticator."""

from __future__ import annotations

from idp.authn import journey
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Refused, Result
from idp.oauth import totp
from idp.records.models import Person


def pending(engine: Engine, flow_id: str, browser: str | None) -> bool:
    with engine.reading() as session:
        flow = engine.journey(session, flow_id, browser)
        return "totp" in flow.pending_factors and bool(flow.person_id)


def submit(engine: Engine, flow_id: str, browser: str | None, code: str) -> Result:
    code = code.strip()
    if not code:
        return Result(Invalid("code_required", field="code"))
    with engine.unit() as session:
        flow = engine.journey(session, flow_id, browser, lock=True)
        if "totp" not in flow.pending_factors or not flow.person_id:
            return Result(Refused("send_first"))
        refused = totp.verify_second_factor(
            session, engine.protector, flow.person_id, code, engine.settings.otp_max_attempts
        )
        if refused is not None:
            if refused.reason == "locked":
                return Result(Invalid("locked", field="code", status=429, params={"until": refused.locked_until}))
            return Result(Invalid("wrong_totp", field="code"))
        person = session.get(Person, flow.person_id)
        if person is None:
            return Result(Refused("account_gone"))
        first = flow.params.get(journey.AMR, "").split()
        channel = flow.params.get(journey.CHANNEL, "web")
        cookie, login = engine.sign_in(session, flow, person, [*first, "otp"], channel=channel)
        return Result(engine.advance(session, flow, login), cookie, not engine.shared_screen(flow))
