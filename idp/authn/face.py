"""Method: live face (real person, loa:3). A randomised liveness challenge over camera frames, then the
decision of idp/proofing/face.py: one face did it all, and it is the registry photo's face for the claimed or
bound ID number. Images are never stored (only the probe's encrypted template, on success); face processing
needs its own consent; the non-face alternative (a counter) is always offered; challenges are bounded per
person per day and tries per journey.
"""

from __future__ import annotations

import time

from anyio import from_thread

from adapters import liveness
from adapters.errors import AdapterError, UnusableImage
from idp.authn import journey, stepup
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Outcome, Shown
from idp.proofing import face as decision
from idp.proofing import limits, service

CHALLENGE_TTL = 120
MAX_FRAMES, MAX_FRAME_BYTES, FACE_TRIES = decision.MAX_FRAMES, decision.MAX_FRAME_BYTES, decision.FACE_TRIES
MESSAGES = {
    "too_large": "bad_frames",
    "unusable": "face_failed",
    "liveness_failed": "liveness_failed",
    "spliced": "face_mismatch",
    "mismatch": "face_mismatch",
    "no_reference": "no_registry_photo",
}


def page(engine: Engine, flow_id: str, browser: str | None, cookie: str | None) -> Shown | Invalid:
    """What the face page shows: consent first, or the camera step. Reads only."""
    with engine.reading() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie)
        if stepup.identity(engine, session, ctx) is None:
            return Invalid("real_name_first")
        consented = service.has_face_consent(session, ctx.person.id)
    return Shown({"consent_needed": not consented})


def give_consent(engine: Engine, flow_id: str, browser: str | None, cookie: str | None) -> None:
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie)
        service.give_face_consent(session, ctx.person.id)


def challenge(engine: Engine, flow_id: str, browser: str | None, cookie: str | None) -> list[str] | Invalid:
    """A new random sequence of actions for this journey (one challenge, one attempt)."""
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie, lock=True)
        if int(ctx.flow.params.get(journey.FACE_TRIES, "0")) >= FACE_TRIES:
            return Invalid("face_tries_used", status=429)
        if not service.has_face_consent(session, ctx.person.id) or stepup.identity(engine, session, ctx) is None:
            return Invalid("face_failed")
        try:
            limits.start_face_flow(engine.provider.counters, engine.limits, ctx.person.id, session)
        except limits.TooManyAttempts as exc:
            return Invalid("too_many_attempts", status=429, params={"seconds": exc.retry_after})
        actions = liveness.new_challenge()
        journey.update(ctx.flow, **{journey.CHALLENGE: f"{int(time.time())} {' '.join(actions)}"})
        return actions


def check(
    engine: Engine, flow_id: str, browser: str | None, cookie: str | None, ip: str, frames: list[bytes]
) -> Outcome:
    """Judge the frames against this journey's challenge; the challenge is used up whatever the verdict."""
    with engine.reading() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie)
        issued = ctx.flow.params.get(journey.CHALLENGE, "")
        consented = service.has_face_consent(session, ctx.person.id)
        claimed = stepup.identity(engine, session, ctx)
    stamp, _, actions = issued.partition(" ")
    fresh = bool(actions) and time.time() - float(stamp or 0) <= CHALLENGE_TTL
    if not (fresh and consented and claimed is not None):
        result, seen, probe = "unusable", "no live challenge", None
    else:
        refused = stepup.attempt(engine, "face", ctx.person.id, ip)
        if refused is not None:
            return refused
        registry = engine.adapters.registry
        name, number = claimed

        def reference() -> bytes | None:
            if registry is None:
                raise AdapterError("registry", "not configured")
            found = from_thread.run(lambda: registry.verify(name, number, include_photo=True))
            return found.photo if found.matched else None

        try:
            verdict = decision.decide(engine.adapters.face, actions.split(), frames, reference)
            result, seen, probe = verdict.result, verdict.liveness, verdict.probe
        except UnusableImage:
            result, seen, probe = "unusable", "unusable image", None
        except AdapterError:
            result, seen, probe = "unavailable", "provider", None
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie, lock=True)
        if not issued or ctx.flow.params.get(journey.CHALLENGE) != issued:
            # Used by a concurrent submission meanwhile: one challenge, one attempt.
            result, probe = "unusable", None
        tries = int(ctx.flow.params.get(journey.FACE_TRIES, "0")) + 1
        journey.update(ctx.flow, **{journey.CHALLENGE: None, journey.FACE_TRIES: str(tries)})
        stepup.record_attempt(
            engine, session, ctx.person.id, "face", result, liveness=seen, frames=len(frames), attempt=tries
        )
        if result != "passed" or probe is None or claimed is None:
            if result == "unavailable":
                return Invalid("provider_down", status=503)
            return Invalid(MESSAGES.get(result, "face_failed"), params={"retry": tries < FACE_TRIES})
        outcome = stepup.prove(engine, session, ctx, source="face", id_number=claimed[1], name=claimed[0])
        if not isinstance(outcome, Invalid):
            service.store_face_template(session, engine.protector, ctx.person.id, probe.to_bytes())
        return outcome
