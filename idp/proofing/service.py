"""Raising a person's proofing level with the evidence for it; every change and refusal audited.

Callers run these in one transaction (`Runtime.run`), with a refusal event, so a refused binding leaves
nothing behind but its audit record.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from idp import audit
from idp.db import utcnow
from idp.errors import Conflict
from idp.masking import mask
from idp.proofing.models import AlipayBinding, BankCard, FaceConsent, FaceTemplate
from idp.records import people
from idp.records.models import Person
from keys.protector import Protector

REAL_NAME, REAL_PERSON = 2, 3


def identity_of(session: Session, protector: Protector, person: Person) -> tuple[str, str] | None:
    """(name, ID number) as bound, for a registry or face check; None when not bound yet."""
    if person.id_number_ct is None or person.name_ct is None:
        return None
    return (
        protector.decrypt("persons", "name_ct", person.id, person.name_ct),
        protector.decrypt("persons", "id_number_ct", person.id, person.id_number_ct),
    )


def raise_level(
    session: Session,
    protector: Protector,
    person_id: str,
    *,
    level: int,
    source: str,
    channel: str,
    id_number: str | None = None,
    name: str | None = None,
) -> Person:
    """Record that `source` proved `level` for the person; binds the ID number first if it is new.

    Refused (Conflict) if the person already has a different ID number, or another person holds it.
    """
    person = people.get(session, person_id)
    if id_number is not None:
        number, _ = people.normalise_id_number(id_number)
        if person.id_number_bidx is None:
            people.bind_id_number(
                session, protector, person.id, id_number=number, name=name or "", actor=person.id, channel=channel
            )
        elif person.id_number_bidx != protector.index("id_number", number):
            raise Conflict(f"a different ID number is bound to this account (not {mask(number, 'id_number')})")
    person.proofing_level = max(person.proofing_level, level)
    person.proofing_evidence = [
        *person.proofing_evidence,
        {"level": level, "source": source, "at": utcnow().isoformat(timespec="seconds")},
    ]
    audit.record(
        session,
        audit.Event(
            action="proofing.raise",
            subject=person.id,
            actor=person.id,
            channel=channel,
            detail={"level": level, "source": source},
        ),
    )
    return person


def record_bank_card(session: Session, person_id: str, card_number: str) -> None:
    digits = "".join(c for c in card_number if c.isdigit())
    session.add(BankCard(person_id=person_id, masked=mask(digits, "card")))


def give_face_consent(session: Session, person_id: str) -> None:
    if session.get(FaceConsent, person_id) is None:
        session.add(FaceConsent(person_id=person_id))
        audit.record(session, audit.Event(action="face.consent", subject=person_id, actor=person_id, channel="web"))


def has_face_consent(session: Session, person_id: str) -> bool:
    return session.get(FaceConsent, person_id) is not None


def store_face_template(session: Session, protector: Protector, person_id: str, template: bytes) -> None:
    row = session.get(FaceTemplate, person_id) or FaceTemplate(person_id=person_id)
    row.template_ct = protector.encrypt(FaceTemplate.__tablename__, "template_ct", person_id, template.hex())
    row.created_at = utcnow()
    session.add(row)


def delete_face_data(session: Session, person_id: str) -> bool:
    """The person's right to erase: template and consent go; returns whether there was anything."""
    removed = session.execute(delete(FaceTemplate).where(FaceTemplate.person_id == person_id)).rowcount  # type: ignore[attr-defined]
    session.execute(delete(FaceConsent).where(FaceConsent.person_id == person_id))
    audit.record(session, audit.Event(action="face.delete", subject=person_id, actor=person_id, channel="web"))
    return bool(removed)


def alipay_person(session: Session, protector: Protector, account: str) -> str | None:
    row = session.get(AlipayBinding, protector.index("alipay", account))
    return row.person_id if row else None


def link_alipay(session: Session, protector: Protector, person_id: str, account: str) -> None:
    """Bind an Alipay account proven in this session to the person proven in this session."""
    bidx = protector.index("alipay", account)
    holder = session.get(AlipayBinding, bidx)
    if holder is not None and holder.person_id != person_id:
        raise Conflict("this Alipay account is bound to another person")
    existing = session.query(AlipayBinding).filter(AlipayBinding.person_id == person_id).one_or_none()
    if existing is not None and existing.account_bidx != bidx:
        raise Conflict("another Alipay account is already bound to this person")
    if holder is None:
        session.add(AlipayBinding(account_bidx=bidx, person_id=person_id))
        audit.record(session, audit.Event(action="alipay.link", subject=person_id, actor=person_id, channel="web"))
