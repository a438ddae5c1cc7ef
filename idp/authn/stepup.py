"""Step-up within a journey: the context every proofing method works in, its attempt limits, and how an
ownership proof is applied.

A method proves that an ID number is this person's (idp/proofing/strength.py says how strongly); `prove`
binds it (a stronger proof takes a number over, an equal or weaker one is refused and kept for operators —
idp/proofing/binding.py), raises the session, and judges the journey again, all in the method's unit of work.
Every identity-matching attempt is counted per person, per IP and against the service's paid-call budget
before the provider is called (idp/proofing/limits.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from idp import audit
from idp.authn import journey
from idp.authn.engine import Engine
from idp.authn.journey import Demand
from idp.authn.outcome import Invalid, Outcome
from idp.errors import Conflict, InvalidInput
from idp.oauth.models import AuthFlow, LoginSession
from idp.oauth.ratelimit import address
from idp.proofing import binding, limits
from idp.records.models import Person

FACE_SOURCES = frozenset({"face", "alipay_certify"})


class NotSignedIn(InvalidInput):
    """The journey has no live session of its own: step-up needs the person signed in first. Rendered like
    every refusal (a page, or problem JSON), by the app's one error handler."""

    def __init__(self) -> None:
        super().__init__("请先登录。Please sign in first.")


@dataclass
class Context:
    flow: AuthFlow
    login: LoginSession
    person: Person
    demand: Demand

    @property
    def channel(self) -> str:
        return self.flow.params.get(journey.CHANNEL, "web")


def context(
    engine: Engine, session: Session, flow_id: str, browser: str | None, cookie: str | None, *, lock: bool = False
) -> Context:
    flow = engine.journey(session, flow_id, browser, lock=lock)
    login = engine.login_of(session, cookie)
    if login is None or login.sid != flow.params.get(journey.FRESH_SID, login.sid):
        raise NotSignedIn()
    person = session.get(Person, login.person_id)
    demand = engine.demand_of(flow)
    if person is None or demand is None:
        raise NotSignedIn()
    return Context(flow, login, person, demand)


def attempt(engine: Engine, step: str, person_id: str, ip: str) -> Invalid | None:
    """Count one attempt at `step` before the provider is asked; a refusal says when to try again.

    The count is a unit of its own (or Redis): it must hold for attempts made at the same moment, so it can't
    wait for the step's unit of work after the provider call.
    """
    with engine.unit() as session:
        try:
            limits.check(
                engine.provider.counters, engine.limits, step, person_id, address(engine.protector, ip), session
            )
        except limits.TooManyAttempts as exc:
            record_attempt(engine, session, person_id, step, "rate_limited")
            return Invalid("too_many_attempts", status=429, params={"seconds": exc.retry_after})
    return None


def record_attempt(
    engine: Engine, session: Session | None, person_id: str, step: str, result: str, **detail: Any
) -> None:
    """Audit an identity-matching attempt (in the caller's unit of work when there is one)."""
    event = audit.Event(
        action=f"proofing.{step}",
        subject=person_id,
        actor=person_id,
        channel="web",
        outcome="success" if result in ("bound", "claimed", "passed") else "refused",
        detail={"result": result, **detail},
    )
    if session is not None:
        audit.record(session, event)
        return
    with engine.unit() as own:
        audit.record(own, event)


def prove(
    engine: Engine,
    session: Session,
    ctx: Context,
    *,
    source: str,
    id_number: str,
    name: str,
) -> Outcome:
    """Bind on an ownership proof, raise the session, and judge the journey — or refuse, keeping only what
    operators need (the conflict) and the audit."""
    try:
        with session.begin_nested():
            binding.prove(
                session,
                engine.protector,
                ctx.person.id,
                id_number=id_number,
                name=name,
                source=source,
                channel=ctx.channel,
                deny_until=engine.deny_until(),
            )
    except binding.BindingRefused as refused:
        binding.record_refusal(session, refused, ctx.channel)
        return Invalid("binding_refused", status=409)
    except (Conflict, InvalidInput) as exc:
        record_attempt(engine, session, ctx.person.id, source, "conflict", reason=exc.detail)
        return Invalid("binding_refused", status=exc.status)
    session.refresh(ctx.person)
    engine.raise_session(
        session, ctx.flow, ctx.login, face=source in FACE_SOURCES, counter=source == "counter", channel=ctx.channel
    )
    return engine.advance(session, ctx.flow, ctx.login)


def identity(engine: Engine, session: Session, ctx: Context) -> tuple[str, str] | None:
    """What an ownership check of this person is about: the bound identity, else the registry claim."""
    return binding.claimed_identity(session, engine.protector, ctx.person)
