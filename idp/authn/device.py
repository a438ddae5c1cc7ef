"""The device journey (RFC 8628 §3.3): the person types (or scans) a user code, signs in at the level the device
asked for, sees which device and what it asks, and approves or declines.

It is a journey like a browser sign-in — the same flow row, the same `policy.next_step`, the same sign-in and
step-up methods — that ends in "approve the device" instead of a redirect with a code. The scopes are shown
on the approval page, so approving is also the consent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from idp import audit
from idp.authn import journey, policy
from idp.authn.journey import Demand
from idp.authn.outcome import Invalid, Outcome, Redirect, Refused, Step
from idp.oauth import device, sessions
from idp.oauth.clients import Client
from idp.oauth.models import AuthFlow, LoginSession
from idp.oauth.ratelimit import address, allowed, window_left

# The engine hands device journeys to this module, so this module can't import the engine (an import loop).
Engine = Any

WINDOW = 600  # guesses are counted per ten minutes
DONE = "/device/done"


def is_device(flow: AuthFlow | None) -> bool:
    return flow is not None and journey.DEVICE in flow.params


def enter(engine: Engine, typed: str, browser: str, cookie: str | None, ip: str) -> Outcome:
    """A user code typed at /device: a journey for the request it names, or a field error. Every well-formed
    guess counts, per address and for everyone together (§5.1: the user code is short, guessing must be
    limited); the counts are all a refusal leaves behind."""
    code = device.normalise(typed)
    if code is None:
        return Invalid("device_code_format", field="user_code")
    s = engine.settings
    with engine.unit() as session:
        counters = engine.provider.counters
        over = not allowed(
            counters, f"device:ip:{address(engine.protector, ip)}", s.device_guesses_per_ip_per_10min, WINDOW, session
        )
        over = not allowed(counters, "device:all", s.device_guesses_per_10min, WINDOW, session) or over
        if over:
            return Invalid("device_too_many", field="user_code", status=429, params={"seconds": window_left(WINDOW)})
        row = device.find_pending(session, engine.protector, code)
        client = engine.provider.clients.get(row.client_id) if row is not None else None
        if row is None or client is None:
            return Invalid("device_code_unknown", field="user_code")
        request = {"client_id": client.client_id, "scope": row.scope, "acr_values": row.acr_values or ""}
        flow = engine.start_journey(session, request, client, browser)
        journey.update(flow, **{journey.DEVICE: row.device_code_hash, journey.CHANNEL: "device"})
        return decide(engine, session, client, engine.login_of(session, cookie), flow)


def decide(engine: Engine, session: Session, client: Client, login: LoginSession | None, flow: AuthFlow) -> Outcome:
    """What the device journey needs next: sign-in, step-up, or the approval page."""
    facts = flow.params
    done = policy.Done(
        fresh_sid=facts.get(journey.FRESH_SID),
        stepup_declined_sid=facts.get(journey.STEPUP_DECLINED),
        consented_sid=login.sid if login else None,  # the approval page is the consent
    )
    seen = policy.Session(login.sid, login.acr, login.auth_time) if login else None
    decision = policy.next_step(Demand.of(journey.request(flow), client), seen, done, consent_missing=False)
    if decision.step == "error":
        return deny(engine, session, flow, decision.error)
    if decision.step == "issue":
        return Step("device", flow.id)
    return Step(decision.step, flow.id)


def answer(engine: Engine, flow_id: str, browser: str | None, cookie: str | None, approve: bool) -> Outcome:
    """The person's answer on the approval page; the request is judged again first (the session may have
    ended, or the level may no longer be met)."""
    with engine.unit() as session:
        flow = engine.journey(session, flow_id, browser, lock=True)
        if not is_device(flow):
            return Refused("authorize_failed")
        login = engine.login_of(session, cookie)
        client = engine.client_of(flow)
        if client is None:
            return Refused("client_gone")
        if not approve:
            return deny(engine, session, flow, "declined")
        if login is None:
            return Refused("please_sign_in")
        now = decide(engine, session, client, login, flow)
        if now != Step("device", flow.id):
            return now
        if not device.decide(session, flow.params[journey.DEVICE], sessions.as_user(login)):
            engine.end_journey(session, flow)
            return Invalid("device_code_gone", status=410)
        _audit(session, flow, login.person_id, "approved", {"acr": login.acr, "scope": journey.request(flow)["scope"]})
        engine.end_journey(session, flow)
        return Redirect(f"{DONE}?result=approved")


def deny(engine: Engine, session: Session, flow: AuthFlow, reason: str) -> Outcome:
    """The person declined (or cancelled, or can't reach the level): the device hears access_denied."""
    decided = device.decide(session, flow.params[journey.DEVICE], None)
    if decided:
        _audit(session, flow, flow.person_id or "", "declined", {"reason": reason})
    engine.end_journey(session, flow)
    return Redirect(f"{DONE}?result=denied")


def _audit(session: Session, flow: AuthFlow, person_id: str, outcome: str, detail: dict[str, str]) -> None:
    audit.record(
        session,
        audit.Event(
            action="oauth.device",
            subject=person_id,
            actor=person_id,
            outcome="ok" if outcome == "approved" else "refused",
            channel="device",
            client=flow.client_id,
            detail={"decision": outcome, **detail},
        ),
    )
