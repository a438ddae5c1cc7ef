"""What each scope releases about a person (OIDC Core §5.4 plus our `real_name`, `id_card`, `org`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.masking import mask
from idp.records.models import Membership, Organisation, Person
from keys.protector import Protector


def _plain(protector: Protector, person: Person, column: str) -> str | None:
    blob = getattr(person, column)
    return None if blob is None else protector.decrypt(Person.__tablename__, column, person.id, blob)


def person_claims(session: Session, protector: Protector, person: Person, granted: set[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    name = _plain(protector, person, "name_ct") if granted & {"profile", "real_name"} else None
    if "profile" in granted:
        if name:
            claims["nickname"] = mask(name, "name")
        claims["updated_at"] = int(person.updated_at.timestamp())
    if "real_name" in granted:
        verified = person.proofing_level >= 2
        claims["real_name_verified"] = verified
        if name and verified:
            claims["name"] = name
    if "phone" in granted:
        phone = _plain(protector, person, "phone_ct")
        if phone:
            claims["phone_number"] = phone
            claims["phone_number_verified"] = person.phone_verified
    if "id_card" in granted:
        number = _plain(protector, person, "id_number_ct")
        if number:
            claims["id_card_number"] = number
            claims["id_card_type"] = person.id_type
    if "org" in granted:
        rows = session.execute(
            select(Organisation.uscc, Organisation.name, Membership.role)
            .join(Membership, Membership.org_id == Organisation.id)
            .where(Membership.person_id == person.id)
        ).all()
        orgs: dict[str, dict[str, Any]] = {}
        for uscc, org_name, role in rows:
            orgs.setdefault(uscc, {"uscc": uscc, "name": org_name, "roles": []})["roles"].append(role)
        claims["organisations"] = list(orgs.values())
    return claims
