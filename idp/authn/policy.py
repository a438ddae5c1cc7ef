"""The one place that decides what a journey needs next (OIDC Core §3.1.2.1-§3.1.2.4).

Pure: it is given what is known (the demand, the session, what this journey already did) and returns the next
step. Every arrival — a new authorization request, a finished sign-in, a step-up, a consent — is judged here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from idp.authn.journey import Demand
from idp.oauth import acr


@dataclass(frozen=True)
class Session:
    sid: str
    acr: str
    auth_time: int


@dataclass(frozen=True)
class Done:
    """So far as this journey goes: what this sign-in already did in this journey."""

    fresh_sid: str | None = None
    stepup_declined_sid: str | None = None
    consented_sid: str | None = None


@dataclass(frozen=True)
class Next:
    """`login`, `stepup`, `consent`, `issue` (a code for the client), or `error` with an RFC 6749 code."""

    step: str
    error: str = ""
    description: str = ""


def needs_login(demand: Demand, login: Session | None, done: Done, now: float | None = None) -> bool:
    if login is None:
        return True
    if done.fresh_sid == login.sid:
        return False  # this very journey just authenticated; its level is judged separately
    if "login" in demand.prompts:
        return True
    now = time.time() if now is None else now
    return demand.max_age is not None and now - login.auth_time > demand.max_age


def next_step(demand: Demand, login: Session | None, done: Done, consent_missing: bool) -> Next:
    interactive = "none" not in demand.prompts
    if needs_login(demand, login, done):
        return Next("login") if interactive else Next("error", "login_required", "the person must sign in")
    assert login is not None
    if acr.level(login.acr) < demand.level:
        # Step up to exactly the level asked for; never hand out a weaker token in its place.
        wanted = acr.acr_for(demand.level)
        if not interactive:
            return Next("error", "interaction_required", f"{wanted} needs the person")
        if done.stepup_declined_sid == login.sid:
            return Next("error", "unmet_authentication_requirements", f"{wanted} is required; reached {login.acr}")
        return Next("stepup")
    if (consent_missing or "consent" in demand.prompts) and done.consented_sid != login.sid:
        return Next("consent") if interactive else Next("error", "consent_required", "the person must consent")
    return Next("issue")
