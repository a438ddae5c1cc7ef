"""Factor records beside proofing: bank cards, face consent and templates, Alipay accounts; every change audited.

Raising a level and binding an ID number happen only on a proof of ownership: idp/proofing/binding.py, used
by the step-up methods of the authentication engine (idp/authn/). Callers run these in their unit of work.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from idp import audit
from idp.db import utcnow
from idp.errors import Conflict
from idp.masking import mask
from idp.proofing.models import AlipayBinding, BankCard, FaceConsent, FaceTemplate
from keys.protector import Protector

REAL_NAME, REAL_PERSON = 2, 3


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
