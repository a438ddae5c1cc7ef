"""人证合一 at a hall kiosk: the ID card's chip against the live face in front of the kiosk, for a short loa:3
session of that kiosk only.

A kiosk (a registered private_key_jwt client bound to a hall, idp/kiosk/devices.py) first takes a liveness
challenge (`challenge`), then sends what its reader read from the chip and the frames its camera took while the
citizen performed it (`identify`). In order, each a reason to refuse (idp/kiosk/refusals.py):

1. the challenge is this kiosk's, unused and fresh (used up whatever the verdict: one challenge, one attempt);
2. the card: name, number format and check character, validity period (idp/kiosk/card.py);
3. attempt limits per card number, per kiosk and for the day (idp/proofing/limits.py);
4. the population registry knows that name and number (when one is configured: the sandbox has its emulator);
5. the face decision of idp/proofing/face.py with the chip photo as the reference: liveness, one face
   throughout, and that face is the chip photo's.

Then, in one unit of work: the number's holder is found by its blind index (or a person is created), the number
is bound by a `kiosk` proof (idp/proofing/binding.py: a higher proof wins; a holder whose stored face is someone
else's and whose proof is equal or stronger is refused), the event is audited with the hall and the kiosk, and
an access token and ID token for this kiosk's client alone are returned — no refresh token and no SSO session:
the kiosk is a shared device. A refusal writes nothing but its audit record and the used-up challenge.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from anyio import from_thread
from authlib.oidc.core.util import create_half_hash
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from adapters import liveness
from adapters.base import FaceEncoding
from adapters.errors import AdapterError, UnusableImage
from adapters.face import check_frames
from idp import audit
from idp.authn.engine import Engine
from idp.db import new_id, utcnow
from idp.errors import Conflict
from idp.kiosk import card, devices
from idp.kiosk.models import KioskChallenge
from idp.kiosk.refusals import Refusal, refuse
from idp.oauth import acr, tokens
from idp.oauth.clients import KIOSK_GRANT, Client
from idp.proofing import binding, limits, strength
from idp.proofing import face as decision
from idp.proofing.models import FaceTemplate
from idp.records.models import Person

CHALLENGE_TTL = 120
MAX_FRAMES, MAX_FRAME_BYTES = decision.MAX_FRAMES, decision.MAX_FRAME_BYTES
MAX_CHIP_PHOTO_BYTES = 100_000  # chip photos are about 1 KB (WLT) or a few KB decoded; a camera frame is more
AMR = ["face", "sc", "mfa"]
"""RFC 8176: `face` (biometric), `sc` (the ID card is a smart card whose chip was read), `mfa` (both)."""
SOURCE = "kiosk"
CARD_ZONE = timezone(timedelta(hours=8), "CST")  # a card's validity dates are China's dates (no DST), not the server's
FACE_RESULTS = {
    "too_large": "bad_frames",
    "unusable": "face_unusable",
    "liveness_failed": "liveness_failed",
    "spliced": "face_mismatch",
    "mismatch": "face_mismatch",
    "no_reference": "chip_photo_unusable",
}


@dataclass(frozen=True)
class Kiosk:
    client: Client
    hall: str


@dataclass(frozen=True)
class Issued:
    challenge_id: str
    actions: list[str]
    expires_in: int


@dataclass(frozen=True)
class Evidence:
    """What the kiosk sent: the liveness challenge it answers, the chip's fields and photo, the camera frames."""

    challenge_id: str
    name: str
    number: str
    valid_from: str
    valid_until: str
    authority: str | None
    chip_photo: bytes
    frames: list[bytes]
    nonce: str | None = None


def kiosk_of(engine: Engine, client: Client, hall: str) -> Kiosk | Refusal:
    """The authenticated client as a kiosk of `hall` (the hall it says it stands in), or why not (audited: an
    authenticated client knocking where it may not is what an operator wants to see)."""
    reason: str | None = None
    registered: str | None = None
    if KIOSK_GRANT not in client.grant_types:
        reason = "not_a_kiosk"
    else:
        with engine.reading() as session:
            device = devices.device(session, client.client_id)
            registered = device.hall if device is not None else None
            if device is None:
                reason = "not_a_kiosk"
            elif device.revoked_at is not None:
                reason = "kiosk_revoked"
    if reason is None and (hall != registered or registered not in {h.id for h in engine.settings.halls}):
        reason = "wrong_hall"
    if reason is not None:
        event = audit.Event(
            action="kiosk.identify",
            subject=client.client_id,
            actor=client.client_id,
            channel="kiosk",
            client=client.client_id,
            outcome="refused",
            detail={"reason": reason, "hall": hall[:64], "registered_hall": registered},
        )
        with engine.unit() as session:
            audit.record(session, event)
        return refuse(reason)
    assert registered is not None
    return Kiosk(client, registered)


def _challenge_hash(engine: Engine, challenge_id: str) -> str:
    return engine.protector.index("kiosk_challenge", challenge_id)


def challenge(engine: Engine, kiosk: Kiosk) -> Issued:
    """A new liveness challenge for this kiosk's next citizen (expired ones of the kiosk are cleared)."""
    challenge_id = secrets.token_urlsafe(24)
    actions = liveness.new_challenge()
    with engine.unit() as session:
        session.execute(
            delete(KioskChallenge).where(
                KioskChallenge.client_id == kiosk.client.client_id, KioskChallenge.expires_at < utcnow()
            )
        )
        session.add(
            KioskChallenge(
                id_hash=_challenge_hash(engine, challenge_id),
                client_id=kiosk.client.client_id,
                actions=" ".join(actions),
                expires_at=utcnow() + timedelta(seconds=CHALLENGE_TTL),
            )
        )
    return Issued(challenge_id, actions, CHALLENGE_TTL)


def _use_challenge(engine: Engine, kiosk: Kiosk, challenge_id: str) -> list[str] | None:
    if not challenge_id or len(challenge_id) > 64:
        return None
    with engine.unit() as session:
        row = session.get(KioskChallenge, _challenge_hash(engine, challenge_id), with_for_update=True)
        if row is None:
            return None
        session.delete(row)
        if row.client_id != kiosk.client.client_id or row.expires_at <= utcnow():
            return None
        return row.actions.split()


def _audit_refusal(engine: Engine, kiosk: Kiosk, refusal: Refusal, **detail: Any) -> None:
    with engine.unit() as session:
        audit.record(session, _event(kiosk, kiosk.client.client_id, "refused", reason=refusal.reason, **detail))


def _event(kiosk: Kiosk, subject: str, outcome: str, **detail: Any) -> audit.Event:
    return audit.Event(
        action="kiosk.identify",
        subject=subject,
        actor=kiosk.client.client_id,
        channel="kiosk",
        client=kiosk.client.client_id,
        outcome=outcome,
        detail={"hall": kiosk.hall, "kiosk": kiosk.client.client_id, **detail},
    )


def kiosk_limits(engine: Engine) -> limits.Limits:
    """The proofing limits, with a kiosk's own allowance where a person's IP's would be: a kiosk serves a hall."""
    return dataclasses.replace(
        engine.limits,
        per_ip_hour=engine.settings.kiosk_attempts_per_hour,
        per_ip_day=engine.settings.kiosk_attempts_per_day,
    )


def identify(engine: Engine, kiosk: Kiosk, evidence: Evidence, today: date | None = None) -> dict[str, Any] | Refusal:
    """The whole check; an RFC 6749 §5.1 token response for this kiosk on success. Runs in a worker thread."""
    actions = _use_challenge(engine, kiosk, evidence.challenge_id)
    verdict = _judge(engine, kiosk, evidence, actions, today or datetime.now(CARD_ZONE).date())
    if isinstance(verdict, Refusal):
        _audit_refusal(engine, kiosk, verdict, frames=len(evidence.frames))
        return verdict
    chip, probe, seen = verdict
    try:
        with engine.unit() as session:
            return _grant(engine, session, kiosk, chip, probe, seen, evidence)
    except binding.BindingRefused as refused:
        with engine.unit() as session:
            binding.record_refusal(session, refused, "kiosk")
        refusal = refuse("binding_refused")
    except Conflict:
        refusal = refuse("binding_refused")
    _audit_refusal(engine, kiosk, refusal, frames=len(evidence.frames))
    return refusal


def _judge(
    engine: Engine, kiosk: Kiosk, evidence: Evidence, actions: list[str] | None, today: date
) -> tuple[card.ChipData, FaceEncoding, str] | Refusal:
    if actions is None:
        return refuse("no_challenge")
    chip = card.parse(
        evidence.name, evidence.number, evidence.valid_from, evidence.valid_until, evidence.authority, today
    )
    if isinstance(chip, Refusal):
        return chip
    photo = evidence.chip_photo
    if not photo or len(photo) > MAX_CHIP_PHOTO_BYTES:
        return refuse("bad_chip_photo")
    try:
        check_frames([photo])  # pixel dimensions from the header, before it is decoded
    except UnusableImage:
        return refuse("bad_chip_photo")
    bidx = engine.protector.index("id_number", chip.number)
    with engine.unit() as session:
        try:
            limits.check(
                engine.provider.counters, kiosk_limits(engine), "face", f"card:{bidx}", f"kiosk:{kiosk.client.client_id}",
                session,
            )  # fmt: skip
        except limits.TooManyAttempts as exc:
            return refuse("too_many_attempts", exc.retry_after)
    registry = engine.adapters.registry
    if registry is not None:
        try:
            found = from_thread.run(lambda: registry.verify(chip.name, chip.number, include_photo=False))
        except AdapterError:
            return refuse("provider_down")
        if not found.matched:
            return refuse("registry_mismatch")
    face = engine.adapters.face
    try:
        verdict = decision.decide(face, actions, evidence.frames, lambda: photo)
    except UnusableImage:
        try:
            face.encode(photo)
        except UnusableImage:
            return refuse("chip_photo_unusable")
        return refuse("face_unusable")
    if not verdict.passed or verdict.probe is None:
        return refuse(FACE_RESULTS.get(verdict.result, "face_unusable"))
    return chip, verdict.probe, verdict.liveness


def _stored_face(engine: Engine, session: Session, person_id: str) -> FaceEncoding | None:
    row = session.get(FaceTemplate, person_id)
    if row is None:
        return None
    text = engine.protector.decrypt(FaceTemplate.__tablename__, "template_ct", person_id, row.template_ct)
    return FaceEncoding.from_bytes(bytes.fromhex(text))


def _person_for(engine: Engine, session: Session, chip: card.ChipData, probe: FaceEncoding) -> Person:
    """Who the card's holder is here: the number's holder, unless their stored face is someone else's — then a
    new person, whose stronger proof takes the number over (or is refused by `binding.prove`)."""
    bidx = engine.protector.index("id_number", chip.number)
    holder = session.scalar(select(Person).where(Person.id_number_bidx == bidx).with_for_update())
    if holder is not None:
        known = _stored_face(engine, session, holder.id)
        face = engine.adapters.face
        if known is None or face.distance(probe, known) <= face.threshold:
            return holder
        if holder.id_proof >= strength.of(SOURCE):
            raise binding.BindingRefused(
                "the number is bound to another face by an equal or stronger proof",
                bidx=bidx, holder=holder.id, holder_proof=holder.id_proof, claimant=holder.id,
                proof=strength.of(SOURCE), source=SOURCE,
            )  # fmt: skip
    person = Person(id=new_id(), proofing_level=1, proofing_evidence=[], phone_verified=False)
    session.add(person)
    session.flush()
    audit.record(session, audit.Event(action="person.register", subject=person.id, actor=person.id, channel="kiosk"))
    return person


def _grant(
    engine: Engine, session: Session, kiosk: Kiosk, chip: card.ChipData, probe: FaceEncoding, seen: str,
    evidence: Evidence,
) -> dict[str, Any]:  # fmt: skip
    person = _person_for(engine, session, chip, probe)
    binding.prove(
        session, engine.protector, person.id, id_number=chip.number, name=chip.name, source=SOURCE,
        channel="kiosk", deny_until=engine.deny_until(),
    )  # fmt: skip
    audit.record(session, _event(kiosk, person.id, "success", liveness=seen, frames=len(evidence.frames)))
    return _tokens(engine, session, kiosk.client, person.id, evidence.nonce)


def _tokens(engine: Engine, session: Session, client: Client, person_id: str, nonce: str | None) -> dict[str, Any]:
    """RFC 6749 §5.1: an access token (RFC 9068 JWT) and an ID token (OIDC Core §2) for this kiosk only."""
    provider, settings = engine.provider, engine.settings
    ttl, now, scope = settings.kiosk_token_ttl, int(time.time()), " ".join(client.scopes)
    sub = provider.subject_of(client, person_id, session)
    access = provider.signer.sign(
        tokens.access_token_claims(
            issuer=settings.issuer,
            client_id=client.client_id,
            sub=sub,
            scope=scope,
            ttl=ttl,
            acr=acr.LOA3,
            amr=list(AMR),
            auth_time=now,
        ),  # fmt: skip
        typ=tokens.AT_TYP,
    )
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": sub,
        "aud": client.client_id,
        "exp": now + ttl,
        "iat": now,
        "auth_time": now,
        "acr": acr.LOA3,
        "amr": list(AMR),
        "at_hash": create_half_hash(access, provider.signer.alg).decode(),
    }
    if nonce:
        claims["nonce"] = nonce
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scope,
        "id_token": provider.signer.sign(claims),
    }
