"""Method: live face (loa:3). A randomised liveness challenge over camera frames, then the most frontal frame
matched to the registry photo; frames across the sequence must be that same face. Images are never stored;
face processing needs its own consent, and the non-face alternative (a counter) is always offered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from anyio import from_thread

from adapters import liveness
from adapters.errors import AdapterError, UnusableImage
from idp import audit
from idp.authn import journey, stepup
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Outcome, Shown
from idp.proofing import service

MAX_FRAMES, MAX_FRAME_BYTES = 24, 400_000
FACE_TRIES = 3
SAMPLED_FRAMES = 4
CHALLENGE_TTL = 120


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str = ""
    reason: str = ""
    template: bytes | None = None


def page(engine: Engine, flow_id: str, browser: str | None, cookie: str | None) -> Shown | Invalid:
    """What the face page shows: consent first, or the camera step. Reads only."""
    with engine.reading() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie)
        if ctx.person.proofing_level < service.REAL_NAME:
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
        if not service.has_face_consent(session, ctx.person.id):
            return Invalid("face_failed")
        actions = liveness.new_challenge()
        journey.update(ctx.flow, **{journey.CHALLENGE: f"{int(time.time())} {' '.join(actions)}"})
        return actions


def _judge(engine: Engine, actions: list[str], frames: list[bytes], identity: tuple[str, str]) -> Verdict:
    face, registry = engine.adapters.face, engine.adapters.registry
    landmarks = face.landmarks_all(frames)
    result = liveness.check_challenge(actions, landmarks)
    if not result.passed:
        return Verdict(False, "liveness_failed", result.reason)
    if registry is None:
        return Verdict(False, "provider_down", "no registry")
    reference = from_thread.run(lambda: registry.verify(identity[0], identity[1], include_photo=True))
    if not reference.matched or reference.photo is None:
        return Verdict(False, "no_registry_photo", result.reason)
    # The most frontal frame of the live sequence is the probe: the face that moved is the face matched.
    seen = [(f, lm) for f, lm in zip(frames, landmarks, strict=True) if lm is not None]
    best = min(seen, key=lambda pair: abs(liveness.head_yaw(pair[1])))[0]
    probe = face.encode(best)
    # The challenge proves liveness only if one face did it all: frames spread over the sequence must be the
    # probe's face (a spliced video of two people fails here).
    step = max(1, len(seen) // SAMPLED_FRAMES)
    for frame, _ in seen[::step][:SAMPLED_FRAMES]:
        if face.distance(probe, face.encode(frame)) > face.threshold:
            return Verdict(False, "face_mismatch", "spliced")
    if face.distance(probe, face.encode(reference.photo)) > face.threshold:
        return Verdict(False, "face_mismatch", "registry")
    return Verdict(True, reason=result.reason, template=probe.to_bytes())


def check(engine: Engine, flow_id: str, browser: str | None, cookie: str | None, frames: list[bytes]) -> Outcome:
    """Judge the frames against this journey's challenge; the challenge is used up whatever the verdict."""
    with engine.reading() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie)
        issued = ctx.flow.params.get(journey.CHALLENGE, "")
        consented = service.has_face_consent(session, ctx.person.id)
        identity = service.identity_of(session, engine.protector, ctx.person)
    stamp, _, actions = issued.partition(" ")
    fresh = bool(actions) and time.time() - float(stamp or 0) <= CHALLENGE_TTL
    verdict = Verdict(False, "face_failed", "no challenge")
    if fresh and consented and identity is not None:
        try:
            verdict = _judge(engine, actions.split(), frames, identity)
        except UnusableImage:
            verdict = Verdict(False, "face_failed", "unusable image")
        except AdapterError:
            verdict = Verdict(False, "provider_down", "provider")
    with engine.unit() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie, lock=True)
        if ctx.flow.params.get(journey.CHALLENGE) != issued or not issued:
            # Used by a concurrent submission meanwhile: one challenge, one attempt.
            verdict = Verdict(False, "face_failed", "challenge used")
        tries = int(ctx.flow.params.get(journey.FACE_TRIES, "0")) + 1
        journey.update(ctx.flow, **{journey.CHALLENGE: None, journey.FACE_TRIES: str(tries)})
        audit.record(
            session,
            audit.Event(
                action="proofing.face",
                subject=ctx.person.id,
                actor=ctx.person.id,
                channel=ctx.channel,
                outcome="success" if verdict.passed else "refused",
                client=ctx.flow.client_id,
                detail={"reason": verdict.reason, "frames": len(frames), "try": tries},
            ),
        )
        if not verdict.passed or verdict.template is None:
            status = 503 if verdict.message == "provider_down" else 400
            return Invalid(verdict.message, status=status, params={"retry": tries < FACE_TRIES})
        service.store_face_template(session, engine.protector, ctx.person.id, verdict.template)
        return stepup.prove(engine, session, ctx, level=3, source="face", face=True)
