"""The citizen's side of CIBA: the page an SMS link opens, the sign-in it sends them through, approve or decline.

The page shows what the agent's app asked (its department, the binding message, the level). To answer, the
person signs in through the engine in a journey of this channel (prompt=login, the level asked), which comes back
here; the answer counts only from a session that (1) belongs to the person the hint named, (2) was authenticated
after the request arrived, and (3) reached the level asked for. Approving records what that sign-in proved;
the client then gets its tokens at the token endpoint (idp/oauth/ciba.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.authn.engine import Engine
from idp.authn.outcome import Refused, Step
from idp.db import utcnow
from idp.oauth import acr
from idp.oauth.ciba import digest
from idp.oauth.ciba_models import APPROVED, DENIED, PENDING, CibaRequest
from idp.oauth.models import LoginSession

CHANNEL = "ciba"
LINK_MAX = 64

# What the page can offer: sign in first, answer, or nothing more (with why).
SIGN_IN, DECIDE, WRONG_PERSON, TOO_LOW, APPROVED_STATE, DENIED_STATE, GONE = (
    "sign_in",
    "decide",
    "wrong_person",
    "too_low",
    "approved",
    "denied",
    "gone",
)


@dataclass(frozen=True)
class View:
    state: str
    link_hash: str = ""
    client_name: str = ""
    binding_message: str = ""
    level: str = ""
    expires_at: datetime | None = None


def _row(session: Session, link: str, *, lock: bool = False) -> CibaRequest | None:
    if not link or len(link) > LINK_MAX:
        return None
    query = select(CibaRequest).where(CibaRequest.link_hash == digest(link))
    return session.scalar(query.with_for_update() if lock else query)


def _state(engine: Engine, row: CibaRequest | None, login: LoginSession | None) -> str:
    if row is None or row.person_id is None:
        return GONE
    if row.status == APPROVED:
        return APPROVED_STATE
    if row.status == DENIED:
        return DENIED_STATE
    if row.expires_at <= utcnow() or row.status != PENDING:
        return GONE
    if login is None or login.created_at < row.created_at:
        # An earlier session doesn't answer a request it never saw. Its start, not `auth_time` (whole seconds):
        # a session begun in the same second but before the request is still earlier.
        return SIGN_IN
    if login.person_id != row.person_id:
        return WRONG_PERSON
    if acr.level(login.acr) < _demanded(engine, row):
        return TOO_LOW
    return DECIDE


def _demanded(engine: Engine, row: CibaRequest) -> int:
    client = engine.provider.clients.get(row.client_id)
    default = client.default_acr if client is not None else None
    return acr.demanded(row.acr_values, default)


def _view(engine: Engine, row: CibaRequest | None, state: str) -> View:
    if row is None or state == GONE:
        return View(GONE)
    client = engine.provider.clients.get(row.client_id)
    binding = engine.protector.decrypt("ciba_requests", "binding_ct", row.id, row.binding_ct) if row.binding_ct else ""
    return View(
        state,
        row.link_hash,
        client.name if client is not None else "",
        binding,
        acr.acr_for(_demanded(engine, row)),
        row.expires_at,
    )


def view(engine: Engine, link: str, cookie: str | None) -> View:
    """What the page shows; reads only."""
    with engine.reading() as session:
        row = _row(session, link)
        login = engine.login_of(session, cookie)
        return _view(engine, row, _state(engine, row, login))


def sign_in(engine: Engine, link: str, browser: str) -> Step | Refused:
    """Start the journey: a fresh sign-in at the level asked, then back to this page."""
    with engine.unit() as session:
        row = _row(session, link)
        if _state(engine, row, None) != SIGN_IN or row is None:
            return Refused("ciba_gone")
        client = engine.provider.clients.get(row.client_id)
        if client is None:
            return Refused("client_gone")
        req = {"client_id": client.client_id, "scope": row.scope, "prompt": "login"}
        if row.acr_values:
            req["acr_values"] = row.acr_values
        return engine.start_for_channel(session, req, client, browser, CHANNEL, f"/ciba/{link}")


def decide(engine: Engine, link: str, cookie: str | None, approve: bool) -> tuple[View, tuple[str, str, str] | None]:
    """Approve or decline, once, from a session that may answer; and whom to ping (ping mode)."""
    with engine.unit() as session:
        row = _row(session, link, lock=True)
        login = engine.login_of(session, cookie)
        state = _state(engine, row, login)
        if state != DECIDE or row is None or login is None:
            return _view(engine, row, state), None
        now = utcnow()
        row.status, row.decided_at = (APPROVED if approve else DENIED), now
        if approve:
            row.acr, row.amr, row.auth_time, row.sid = login.acr, list(login.amr), login.auth_time, login.sid
        audit.record(
            session,
            audit.Event(
                action="ciba.approve" if approve else "ciba.decline",
                subject=login.person_id,
                actor=login.person_id,
                channel=CHANNEL,
                client=row.client_id,
                detail={"request": row.id, "acr": login.acr},
            ),
        )
        target = engine.provider.ciba.ping_target(session, row)
        return _view(engine, row, APPROVED_STATE if approve else DENIED_STATE), target
