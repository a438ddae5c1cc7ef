"""Step-up within a journey: the context every proofing method works in, and how a proof is applied.

A proofing method proves a real name (loa:2) or a real person (loa:3); `prove` records it on the person, inside
the method's unit of work, and judges the journey again. A refused binding (an ID number held by someone else)
is audited and keeps nothing else of the step.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp import audit
from idp.authn import journey
from idp.authn.engine import Engine
from idp.authn.journey import Demand
from idp.authn.outcome import Invalid, Outcome
from idp.errors import Conflict, InvalidInput
from idp.oauth.models import AuthFlow, LoginSession
from idp.proofing import service
from idp.records.models import Person


class NotSignedIn(Exception):
    """The journey has no live session of its own: step-up needs the person signed in first."""


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


def prove(
    engine: Engine,
    session: Session,
    ctx: Context,
    *,
    level: int,
    source: str,
    face: bool,
    id_number: str | None = None,
    name: str | None = None,
) -> Outcome:
    """Record the proof, raise the session, and judge the journey — or refuse, keeping only the audit."""
    try:
        with session.begin_nested():
            service.raise_level(
                session,
                engine.protector,
                ctx.person.id,
                level=level,
                source=source,
                channel=ctx.channel,
                id_number=id_number,
                name=name,
            )
    except (Conflict, InvalidInput) as exc:
        audit.record(
            session,
            audit.Event(
                action="proofing.raise",
                subject=ctx.person.id,
                outcome="refused",
                actor=ctx.person.id,
                channel=ctx.channel,
                client=ctx.flow.client_id,
                detail={"source": source, "reason": exc.detail},
            ),
        )
        return Invalid("binding_refused", status=exc.status)
    session.refresh(ctx.person)
    engine.raise_session(session, ctx.flow, ctx.login, face=face, channel=ctx.channel)
    return engine.advance(session, ctx.flow, ctx.login)
