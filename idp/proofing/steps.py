"""The identity-matching steps, each one call: limits, the provider, the binding, all audited.

Each function takes the dependencies (`Deps`), the person and the step's inputs and returns an `Outcome`; the
web layer (or the authentication engine) only parses and renders. Adapter calls are awaited through
`deps.call` (`anyio.from_thread.run` from a worker thread) and never inside a database transaction.

- registry: name + number match → an `IdClaim` (knowledge; no level, no binding)
- carrier: the signed-in phone registered to name + number at its carrier → bound (carrier, loa:2)
- unionpay: bank card 4 elements → bound (unionpay, loa:2)
- alipay: certify with face → bound (alipay_certify, loa:3)
- face: live face against the registry photo → bound (face, loa:3); see idp/proofing/face.py
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from anyio import from_thread

from adapters.base import BankCardResult, CarrierResult, RegistryResult
from adapters.errors import AdapterError, UnusableImage
from adapters.factory import Adapters
from idp import audit
from idp.errors import Conflict, InvalidInput
from idp.oauth.ratelimit import Counters
from idp.proofing import binding, limits
from idp.proofing.models import IdClaim
from idp.protect import Protector
from idp.records import people
from idp.records.models import Person
from idp.runtime import Runtime

T = TypeVar("T")
Call = Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]


@dataclass(frozen=True)
class Deps:
    runtime: Runtime
    adapters: Adapters
    counters: Counters
    limits: limits.Limits
    access_token_ttl: int
    call: Call = from_thread.run
    channel: str = "web"

    @property
    def protector(self) -> Protector:
        return self.runtime.protector

    def deny_until(self) -> int:
        return int(time.time()) + self.access_token_ttl


@dataclass(frozen=True)
class Outcome:
    """`result`: `bound` (ownership proven, level raised), `claimed` (registry match only), `no_match`,
    `undecided` (the provider could not say), `unavailable` (provider down or not configured)."""

    result: str
    bound: binding.Bound | None = None

    @property
    def ok(self) -> bool:
        return self.result in ("bound", "claimed")


def _audit_attempt(deps: Deps, person_id: str, step: str, outcome: str, **detail: Any) -> None:
    with deps.runtime.transaction() as session:
        audit.record(
            session,
            audit.Event(
                action=f"proofing.{step}", subject=person_id, actor=person_id, channel=deps.channel,
                outcome="success" if outcome in ("bound", "claimed") else "refused", detail={"result": outcome, **detail},
            ),
        )  # fmt: skip


def _limit(deps: Deps, step: str, person_id: str, ip: str) -> None:
    try:
        limits.check(deps.counters, deps.limits, step, person_id, ip)
    except limits.TooManyAttempts:
        _audit_attempt(deps, person_id, step, "rate_limited")
        raise


def _normalise(name: str, id_number: str) -> tuple[str, str]:
    clean = " ".join(name.split())
    if not clean or len(clean) > 100:
        raise InvalidInput("姓名应为 1 到 100 个字符。A name must be 1 to 100 characters.")
    number, _ = people.normalise_id_number(id_number)
    return clean, number


def bind(deps: Deps, person_id: str, *, id_number: str, name: str, source: str) -> binding.Bound:
    """Bind on an ownership proof; a refused conflict is kept for operators before it is raised."""
    try:
        return deps.runtime.run(
            lambda s: binding.prove(
                s, deps.protector, person_id, id_number=id_number, name=name, source=source, channel=deps.channel,
                deny_until=deps.deny_until(),
            )
        )  # fmt: skip
    except binding.BindingRefused as exc:
        kept = exc
        deps.runtime.run(lambda s: binding.record_refusal(s, kept, deps.channel))
        raise
    except Conflict as exc:
        _audit_attempt(deps, person_id, source, "conflict", reason=exc.detail)
        raise


def registry_claim(deps: Deps, person_id: str, ip: str, name: str, id_number: str) -> Outcome:
    """The registry confirms name and number belong together: remembered as this person's claim, nothing more."""
    clean, number = _normalise(name, id_number)
    registry = deps.adapters.registry
    if registry is None:
        return Outcome("unavailable")
    _limit(deps, "registry", person_id, ip)
    try:
        result: RegistryResult = deps.call(lambda: registry.verify(clean, number, include_photo=False))
    except AdapterError:
        _audit_attempt(deps, person_id, "registry", "unavailable")
        return Outcome("unavailable")
    if not result.matched:
        _audit_attempt(deps, person_id, "registry", "no_match")
        return Outcome("no_match")
    deps.runtime.run(lambda s: binding.record_claim(s, deps.protector, person_id, name=clean, id_number=number))
    _audit_attempt(deps, person_id, "registry", "claimed")
    return Outcome("claimed")


def claimed_identity(deps: Deps, person: Person) -> tuple[str, str] | None:
    """(name, ID number) to prove: the bound ones, else the registry-matched claim; None when neither."""
    with deps.runtime.transaction() as session:
        if person.id_number_ct is not None and person.name_ct is not None:
            p = deps.protector
            return (
                p.decrypt("persons", "name_ct", person.id, person.name_ct),
                p.decrypt("persons", "id_number_ct", person.id, person.id_number_ct),
            )
        claim = session.get(IdClaim, person.id)
        if claim is None:
            return None
        return (
            deps.protector.decrypt(IdClaim.__tablename__, "name_ct", person.id, claim.name_ct),
            deps.protector.decrypt(IdClaim.__tablename__, "id_number_ct", person.id, claim.id_number_ct),
        )


def carrier_check(deps: Deps, person_id: str, ip: str, name: str, id_number: str) -> Outcome:
    """Is the phone this person signed in with registered to `name` and `id_number` at its carrier?"""
    clean, number = _normalise(name, id_number)
    carrier = deps.adapters.carrier
    if carrier is None:
        return Outcome("unavailable")
    with deps.runtime.transaction() as session:
        person = people.get(session, person_id)
        phone = (
            deps.protector.decrypt("persons", "phone_ct", person.id, person.phone_ct)
            if person.phone_ct is not None and person.phone_verified
            else None
        )
    if phone is None:
        raise InvalidInput("请先用手机号登录。A carrier check needs the verified phone you signed in with.")
    _limit(deps, "carrier", person_id, ip)
    try:
        result: CarrierResult = deps.call(lambda: carrier.verify(clean, number, phone))
    except AdapterError:
        _audit_attempt(deps, person_id, "carrier", "unavailable")
        return Outcome("unavailable")
    if result.matched is None:
        _audit_attempt(deps, person_id, "carrier", "undecided")
        return Outcome("undecided")
    if not result.matched:
        _audit_attempt(deps, person_id, "carrier", "no_match")
        return Outcome("no_match")
    return Outcome("bound", bind(deps, person_id, id_number=number, name=clean, source="carrier"))


def unionpay_check(
    deps: Deps, person_id: str, ip: str, name: str, id_number: str, card_number: str, phone: str
) -> Outcome:
    """Bank card four elements: card, name, number and the card's phone registered together at the bank."""
    from idp.proofing import service

    clean, number = _normalise(name, id_number)
    verifier = deps.adapters.bank_card
    if verifier is None:
        return Outcome("unavailable")
    card = "".join(c for c in card_number if c.isdigit())
    _limit(deps, "unionpay", person_id, ip)
    try:
        result: BankCardResult = deps.call(lambda: verifier.verify(clean, number, card, phone.strip()))
    except AdapterError:
        _audit_attempt(deps, person_id, "unionpay", "unavailable")
        return Outcome("unavailable")
    if result.matched is None:
        _audit_attempt(deps, person_id, "unionpay", "undecided")
        return Outcome("undecided")
    if not result.matched:
        _audit_attempt(deps, person_id, "unionpay", "no_match")
        return Outcome("no_match")
    bound = bind(deps, person_id, id_number=number, name=clean, source="unionpay")
    deps.runtime.run(lambda s: service.record_bank_card(s, person_id, card))
    return Outcome("bound", bound)


def alipay_start(deps: Deps, person_id: str, ip: str, order: str, name: str, id_number: str, return_url: str) -> str:
    """Start Alipay certify (face) for name + number; the certify id to send the person to. Counted as an
    attempt: every initialise is a paid call."""
    clean, number = _normalise(name, id_number)
    alipay = deps.adapters.alipay
    if alipay is None:
        raise AdapterError("alipay", "not configured")
    _limit(deps, "alipay", person_id, ip)
    certify_id: str = deps.call(lambda: alipay.certify_initialize(order, clean, number, return_url, biz_code="FACE"))
    return certify_id


def alipay_finish(deps: Deps, person_id: str, certify_id: str, name: str, id_number: str) -> Outcome:
    alipay = deps.adapters.alipay
    if alipay is None:
        return Outcome("unavailable")
    try:
        passed: bool = deps.call(lambda: alipay.certify_query(certify_id))
    except AdapterError:
        return Outcome("unavailable")
    if not passed:
        _audit_attempt(deps, person_id, "alipay", "no_match")
        return Outcome("no_match")
    return Outcome("bound", bind(deps, person_id, id_number=id_number, name=name, source="alipay_certify"))


def face_check(deps: Deps, person: Person, ip: str, challenge: list[str], frames: list[bytes]) -> str:
    """One live-face attempt against the registry photo of the claimed or bound number. On `passed` the number
    is bound at face strength (loa:3) and the probe's template kept; returns the decision's result, or
    `unusable` / `unavailable` / `no_identity`. Raises TooManyAttempts, Conflict (binding refused)."""
    from idp.proofing import face as face_step
    from idp.proofing import service

    identity = claimed_identity(deps, person)
    if identity is None:
        return "no_identity"
    registry = deps.adapters.registry
    if registry is None:
        return "unavailable"
    _limit(deps, "face", person.id, ip)
    name, number = identity

    def reference() -> bytes | None:
        result: RegistryResult = deps.call(lambda: registry.verify(name, number, include_photo=True))
        return result.photo if result.matched else None

    try:
        decision = face_step.decide(deps.adapters.face, challenge, frames, reference)
    except UnusableImage:
        _audit_attempt(deps, person.id, "face", "unusable", frames=len(frames))
        return "unusable"
    except AdapterError:
        _audit_attempt(deps, person.id, "face", "unavailable", frames=len(frames))
        return "unavailable"
    if not decision.passed or decision.probe is None:
        _audit_attempt(deps, person.id, "face", decision.result, liveness=decision.liveness, frames=len(frames))
        return decision.result
    bind(deps, person.id, id_number=number, name=name, source="face")
    probe = decision.probe
    deps.runtime.run(lambda s: service.store_face_template(s, deps.protector, person.id, probe.to_bytes()))
    _audit_attempt(deps, person.id, "face", "bound", liveness=decision.liveness, frames=len(frames))
    return "passed"


def counter_check(deps: Deps, person_id: str, *, staff: str, name: str, id_number: str) -> Outcome:
    """Staff at a service counter checked the ID card against the person in front of them: the strongest
    ownership proof there is (idp/proofing/strength.py), so it takes a number over from any other binding.
    For the counter channel's engine step; `staff` is the operator's name, recorded in the audit trail."""
    clean, number = _normalise(name, id_number)
    bound = bind(deps, person_id, id_number=number, name=clean, source="counter")
    with deps.runtime.transaction() as session:
        audit.record(
            session,
            audit.Event(action="proofing.counter", subject=person_id, actor=staff, channel="counter",
                        detail={"proof": bound.proof}),
        )  # fmt: skip
    return Outcome("bound", bound)
