"""Method: a mobile phone and an SMS code (loa:1). A first sign-in with a new phone registers the person.

`send` issues a code (budgets split by who asks, a proof of work after a number's first code, the hourly spend
cap: idp/authn/sms_limits.py; lockout; a 60 s resend interval) and sends it after the challenge is committed,
so a code never arrives for a challenge that isn't stored. `submit` checks the code and,
in the same unit of work, registers the person, records the accepted user agreement, opens the SSO session,
records the consent given on the same page, and decides the next step.
"""

from __future__ import annotations

import time
from datetime import datetime

from anyio import from_thread

from adapters.errors import AdapterError
from idp import alerts, audit
from idp.authn import hashcash, journey, sms_limits, terms
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Result, Shown, Step
from idp.identity import InvalidIdentifier, normalize_mobile
from idp.masking import mask
from idp.oauth import otp, totp
from idp.oauth.models import AuthFlow
from idp.oauth.ratelimit import window_left
from idp.proofing import service
from idp.records import people

RESEND_S = 60


def parse_phone(raw: str) -> str | Invalid:
    if not raw.strip():
        return Invalid("phone_required", field="phone")
    try:
        return normalize_mobile(raw)
    except InvalidIdentifier:
        return Invalid("bad_phone", field="phone")


def shown(phone: str) -> str:
    """A phone as people read it on a page: the national number, masked (`139****1126`)."""
    return mask(phone.removeprefix("+86"), "phone")


def locked(until: datetime | None) -> Invalid:
    return Invalid("locked", field="phone", status=429, params={"until": until, "locked": True})


def resend_in(facts: dict[str, str]) -> int:
    sent = facts.get(journey.SENT_AT)
    return max(0, int(RESEND_S - (time.time() - float(sent)))) if sent else 0


def proof_challenge(engine: Engine, flow: AuthFlow, browser: str | None) -> str:
    """The proof-of-work challenge for this journey's next send (it changes with every send)."""
    return hashcash.challenge(engine.protector, flow.id, flow.params.get(journey.SENT_AT, ""), browser or "")


def _waited(flow: AuthFlow) -> float:
    """Seconds since the journey's last send, or since it started: the no-JavaScript price of a send."""
    sent = flow.params.get(journey.SENT_AT)
    since = float(sent) if sent else flow.created_at.timestamp()
    return time.time() - since


def send(
    engine: Engine, flow_id: str, browser: str | None, raw_phone: str, ip: str, proof: str = ""
) -> Shown | Invalid:
    phone = parse_phone(raw_phone)
    if isinstance(phone, Invalid):
        return phone
    s, counters = engine.settings, engine.provider.counters
    key = engine.protector.index("phone", phone)
    try:
        with engine.unit() as session:
            flow = engine.journey(session, flow_id, browser, lock=True)
            wait = resend_in(flow.params)
            if wait and flow.params.get(journey.PHONE_MASKED) == shown(phone):
                return Invalid("resend_wait", field="phone", status=429, params={"seconds": wait})
            who = sms_limits.requester(session, engine.protector, key, browser, ip)
            try:
                issued = otp.issue(session, engine.protector, phone, s.otp_ttl, who.device)
            except otp.OtpRefused as refused:
                return locked(refused.locked_until)
            proof_ok = hashcash.solved(proof_challenge(engine, flow, browser), proof, s.sms_pow_bits)
            waited = _waited(flow)
            flow.otp_id = issued.challenge_id
            journey.update(flow, **{journey.PHONE_MASKED: shown(phone), journey.SENT_AT: str(time.time())})
            # The limits last: their rows (one per IP) are the ones every sign-in shares, so their locks are
            # held only for the moment of the commit. Over a limit, the whole step is rolled back.
            sent_this_hour = sms_limits.check(counters, session, s, who, proof_ok=proof_ok, waited=waited)
    except sms_limits.OverLimit as over:
        return Invalid("too_many_sms", field="phone", status=429, params={"seconds": window_left(over.window)})
    except sms_limits.ProofNeeded as needed:
        return Invalid("sms_proof", field="phone", status=429, params={"seconds": needed.wait})
    except sms_limits.SpendCapReached as cap:
        _spend_alert(engine, "sms.hourly_cap.reached", cap.count)
        return Invalid("sms_busy", field="phone", status=503)
    if sent_this_hour >= sms_limits.warning_at(s):
        _spend_alert(engine, "sms.hourly_cap.warning", sent_this_hour)
        if sent_this_hour >= s.sms_max_per_hour:
            _spend_alert(engine, "sms.hourly_cap.reached", sent_this_hour)
    try:
        from_thread.run(engine.provider.sms.send_code, phone, issued.code)
    except AdapterError:
        return Invalid("sms_down", field="phone", status=503)
    return Shown({"sent": True, "masked": shown(phone), "resend_in": RESEND_S})


def _spend_alert(engine: Engine, event: str, count: int) -> None:
    """Once per hour and event (its own transaction: kept even though the refused send is rolled back)."""
    cap = engine.settings.sms_max_per_hour
    level = "error" if event.endswith("reached") else "warning"
    alerts.raise_once(
        engine.runtime.transaction,
        event,
        sms_limits.hour_start(),
        level=level,
        detail={"cap_per_hour": cap, "count": min(count, cap)},
    )


def submit(
    engine: Engine,
    flow_id: str,
    browser: str | None,
    raw_phone: str,
    code: str,
    *,
    agreed: bool,
    approve_scopes: bool,
) -> Result:
    """The code, the agreement and (when shown) the consent, from one page, in one unit of work."""
    code = code.strip()
    if not code:
        return Result(Invalid("code_required", field="code"))
    if not (code.isdigit() and len(code) == 6):
        return Result(Invalid("code_format", field="code"))
    if not agreed:
        return Result(Invalid("must_agree", field="agree"))
    typed = parse_phone(raw_phone) if raw_phone.strip() else None
    with engine.unit() as session:
        flow = engine.journey(session, flow_id, browser, lock=True)
        masked = flow.params.get(journey.PHONE_MASKED, "")
        if not flow.otp_id:
            return Result(Invalid("send_first", field="phone"))
        if isinstance(typed, str) and shown(typed) != masked:
            return Result(Invalid("phone_changed", field="phone"))
        try:
            device = sms_limits.device_of(engine.protector, browser)
            phone = otp.verify(session, engine.protector, flow.otp_id, code, engine.settings.otp_max_attempts, device)
        except otp.OtpRefused as refused:
            # Failures count even though the sign-in fails: this unit commits them.
            audit.record(
                session,
                audit.Event(
                    action="login.sms",
                    subject=masked,
                    outcome="refused",
                    channel=flow.params.get(journey.CHANNEL, "web"),
                    client=flow.client_id,
                    detail={"reason": refused.reason},
                ),
            )
            if refused.reason == "locked":
                flow.otp_id = None
                return Result(locked(refused.locked_until))
            if refused.reason == "wrong_code":
                return Result(Invalid("wrong_code", field="code", params={"tries_left": refused.tries_left}))
            flow.otp_id = None
            return Result(Invalid("code_expired", field="code"))
        sms_limits.remember(session, engine.protector, engine.protector.index("phone", phone), browser)
        channel = flow.params.get(journey.CHANNEL, "web")
        person = people.find_by_phone(session, engine.protector, phone)
        if person is None:
            person = people.register_by_phone(session, engine.protector, phone, channel=channel, client=flow.client_id)
        elif not person.phone_verified:
            person.phone_verified = True
        terms.accept(session, person.id, engine.settings.terms_version, channel)
        pending_alipay = flow.params.get(journey.ALIPAY_PENDING)
        if pending_alipay:
            # The Alipay account was proven in this journey and the person just proved their phone: link them.
            account = engine.unseal(flow, "alipay", pending_alipay)
            service.link_alipay(session, engine.protector, person.id, account)
            journey.update(flow, **{journey.ALIPAY_PENDING: None})
        if totp.is_enrolled(session, person.id):
            flow.person_id, flow.pending_factors, flow.otp_id = person.id, ["totp"], None
            journey.update(flow, **{journey.AMR: "sms", journey.SENT_AT: None})
            return Result(Step("totp", flow.id))
        cookie, login = engine.sign_in(session, flow, person, ["sms"], channel=channel)
        lasting = not engine.shared_screen(flow)
        if approve_scopes:
            return Result(engine.give_consent(session, flow, login, True), cookie, lasting)
        return Result(engine.advance(session, flow, login), cookie, lasting)
