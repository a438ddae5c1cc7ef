"""Persons: created by ID number or by a verified phone alone, the ID number bound later, at most once.

Every function takes the caller's session (one transaction) and the `Protector`; nothing here commits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp import audit
from idp.db import new_id
from idp.errors import Conflict, InvalidInput, NotFound
from idp.identity import InvalidIdentifier, check_identifier, normalize_mobile, normalize_ss_card_number
from idp.masking import mask
from idp.records.models import Person, SocialSecurityCard
from keys.protector import Protector

PERSON_ID_KINDS = ("citizen_id", "foreign_pr")
TABLE = Person.__tablename__


@dataclass(frozen=True)
class PersonView:
    """A person as pages, API and CLI show it: every personal field masked."""

    id: str
    id_type: str | None
    id_number: str | None
    name: str | None
    phone: str | None
    phone_verified: bool
    proofing_level: int
    social_security_card: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


def normalise_id_number(value: str) -> tuple[str, str]:
    """(normalised number, id type) for any personal identity document we accept."""
    reasons: dict[str, str] = {}
    for kind in PERSON_ID_KINDS:
        try:
            checked = check_identifier(value, kind=kind)
        except InvalidIdentifier as exc:
            reasons[kind] = exc.reason
            continue
        return checked.normalized, checked.facts.get("document", checked.kind)
    # Resident IDs never start with 9 or a letter; permanent-residence cards do: report the likelier kind.
    first = value.strip()[:1].upper()
    likely = "foreign_pr" if first == "9" or first.isalpha() else "citizen_id"
    raise InvalidInput(f"invalid ID number: {reasons[likely]}")


def _phone(value: str) -> str:
    try:
        return normalize_mobile(value)
    except InvalidIdentifier as exc:
        raise InvalidInput(f"invalid phone number: {exc.reason}") from None


def _name(value: str) -> str:
    name = " ".join(value.split())
    if not name or len(name) > 100:
        raise InvalidInput("a name must be 1 to 100 characters")
    return name


def _set(protector: Protector, person: Person, column: str, value: str) -> None:
    setattr(person, column, protector.encrypt(TABLE, column, person.id, value))


def _get(protector: Protector, person: Person, column: str) -> str | None:
    blob = getattr(person, column)
    return None if blob is None else protector.decrypt(TABLE, column, person.id, blob)


def find_by_id_number(session: Session, protector: Protector, id_number: str) -> Person | None:
    number, _ = normalise_id_number(id_number)
    return session.scalar(select(Person).where(Person.id_number_bidx == protector.index("id_number", number)))


def find_by_phone(session: Session, protector: Protector, phone: str) -> Person | None:
    e164 = _phone(phone)
    return session.scalar(select(Person).where(Person.phone_bidx == protector.index("phone", e164)))


def get(session: Session, person_id: str) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("no such person")
    return person


def _flush_unique(session: Session, what: str) -> None:
    """Flush now so a concurrent duplicate hits the unique index here, as a Conflict, not at commit."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(what) from None


def add(
    session: Session,
    protector: Protector,
    *,
    id_number: str,
    name: str,
    phone: str | None = None,
    actor: str = "operator",
    channel: str = "cli",
) -> Person:
    """Register a person by ID number (an operator or counter enrolment: the name is recorded, not proven)."""
    number, id_type = normalise_id_number(id_number)
    clean_name = _name(name)
    e164 = _phone(phone) if phone else None
    if find_by_id_number(session, protector, number) is not None:
        raise Conflict(f"a person with ID number {mask(number, 'id_number')} already exists")
    if e164 and find_by_phone(session, protector, e164) is not None:
        raise Conflict(f"phone {mask(e164, 'phone')} is already bound to another person")
    # An operator's enrolment: accountable and audited, but not the person's own proof (idp/proofing/strength.py).
    person = Person(
        id=new_id(), proofing_level=1, proofing_evidence=[], id_type=id_type, id_proof=1, id_proof_source="operator"
    )
    session.add(person)
    person.id_number_bidx = protector.index("id_number", number)
    _set(protector, person, "id_number_ct", number)
    _set(protector, person, "name_ct", clean_name)
    if e164:
        person.phone_bidx = protector.index("phone", e164)
        _set(protector, person, "phone_ct", e164)
    _flush_unique(session, f"a person with ID number {mask(number, 'id_number')} already exists")
    audit.record(
        session,
        audit.Event(action="person.add", subject=person.id, actor=actor, channel=channel, detail={"id_type": id_type}),
    )
    return person


def register_by_phone(
    session: Session, protector: Protector, phone: str, *, channel: str = "web", client: str | None = None
) -> Person:
    """A first login with a new, just-verified phone: a person at loa:1, ID number bound later."""
    e164 = _phone(phone)
    if find_by_phone(session, protector, e164) is not None:
        raise Conflict(f"phone {mask(e164, 'phone')} is already registered")
    person = Person(id=new_id(), proofing_level=1, proofing_evidence=[], phone_verified=True)
    session.add(person)
    person.phone_bidx = protector.index("phone", e164)
    _set(protector, person, "phone_ct", e164)
    _flush_unique(session, f"phone {mask(e164, 'phone')} is already registered")
    audit.record(
        session,
        audit.Event(action="person.register", subject=person.id, actor=person.id, channel=channel, client=client),
    )
    return person


def bind_id_number(
    session: Session,
    protector: Protector,
    person_id: str,
    *,
    id_number: str,
    name: str,
    actor: str,
    channel: str,
    proof: int = 1,
    source: str = "operator",
) -> Person:
    """Bind an ID number to a person who has none, recording how it was proven (idp/proofing/strength.py).
    Refused if they have one, or another person holds it (idp/proofing/binding.py decides takeovers)."""
    person = get(session, person_id)
    number, id_type = normalise_id_number(id_number)
    if person.id_number_bidx is not None:
        raise Conflict("this person already has an ID number bound")
    holder = find_by_id_number(session, protector, number)
    if holder is not None:
        raise Conflict(f"ID number {mask(number, 'id_number')} is bound to another person")
    person.id_type = id_type
    person.id_proof, person.id_proof_source = proof, source
    person.id_number_bidx = protector.index("id_number", number)
    _set(protector, person, "id_number_ct", number)
    _set(protector, person, "name_ct", _name(name))
    _flush_unique(session, f"ID number {mask(number, 'id_number')} is bound to another person")
    audit.record(
        session,
        audit.Event(
            action="person.bind_id",
            subject=person.id,
            actor=actor,
            channel=channel,
            detail={"id_type": id_type, "proof": proof, "source": source},
        ),
    )
    return person


def bind_ss_card(session: Session, protector: Protector, person_id: str, card_number: str, *, actor: str) -> None:
    """Bind a (re)issued social-security card; the previous card, if any, is marked replaced."""
    person = get(session, person_id)
    if person.id_number_bidx is None:
        raise Conflict("a social-security card needs the person's ID number bound first")
    try:
        number = normalize_ss_card_number(card_number)
    except InvalidIdentifier as exc:
        raise InvalidInput(f"invalid social-security card number: {exc.reason}") from None
    for old in session.scalars(
        select(SocialSecurityCard).where(
            SocialSecurityCard.person_id == person.id, SocialSecurityCard.status == "active"
        )
    ):
        old.status = "replaced"
    card = SocialSecurityCard(id=new_id(), person_id=person.id, status="active")
    card.card_number_ct = protector.encrypt(SocialSecurityCard.__tablename__, "card_number_ct", card.id, number)
    session.add(card)
    audit.record(session, audit.Event(action="person.bind_ss_card", subject=person.id, actor=actor))


def view(session: Session, protector: Protector, person: Person) -> PersonView:
    card = session.scalar(
        select(SocialSecurityCard).where(
            SocialSecurityCard.person_id == person.id, SocialSecurityCard.status == "active"
        )
    )
    card_number = (
        protector.decrypt(SocialSecurityCard.__tablename__, "card_number_ct", card.id, card.card_number_ct)
        if card is not None
        else None
    )
    id_number = _get(protector, person, "id_number_ct")
    name = _get(protector, person, "name_ct")
    phone = _get(protector, person, "phone_ct")
    return PersonView(
        id=person.id,
        id_type=person.id_type,
        id_number=mask(id_number, "id_number") if id_number else None,
        name=mask(name, "name") if name else None,
        phone=mask(phone, "phone") if phone else None,
        phone_verified=person.phone_verified,
        proofing_level=person.proofing_level,
        social_security_card=mask(card_number, "ss_card") if card_number else None,
        created_at=person.created_at,
    )
