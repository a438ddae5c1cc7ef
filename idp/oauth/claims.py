"""What each scope releases about a person (OIDC Core §5.4 plus our `real_name`, `id_card`, `org`).

The name and the ID number are released only when both the person's proofing and this authentication reached
the level that proves them (loa:2): a phone number is recycled by carriers, so a loa:1 sign-in with a phone
says nothing about whose name and number are on the account. Organisation roles are released only while the
account's binding of the number they were granted to is proven (idp/records/organisations.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.masking import mask
from idp.records.models import Membership, Organisation, Person
from idp.records.organisations import roles_apply
from keys.protector import Protector

REAL_NAME = 2


def _plain(protector: Protector, person: Person, column: str) -> str | None:
    blob = getattr(person, column)
    return None if blob is None else protector.decrypt(Person.__tablename__, column, person.id, blob)


def person_claims(
    session: Session, protector: Protector, person: Person, granted: set[str], session_level: int
) -> dict[str, Any]:
    """Claims for `granted` scopes; `session_level` is the level (1-3) the token's authentication proved."""
    claims: dict[str, Any] = {}
    verified = person.proofing_level >= REAL_NAME and session_level >= REAL_NAME and person.id_proof >= REAL_NAME
    wanted = granted & {"profile", "real_name"}
    name = _plain(protector, person, "name_ct") if wanted and verified else None
    if "profile" in granted:
        if name:
            claims["nickname"] = mask(name, "name")
        claims["updated_at"] = int(person.updated_at.timestamp())
    if "real_name" in granted:
        claims["real_name_verified"] = verified
        if name:
            claims["name"] = name
    if "phone" in granted:
        phone = _plain(protector, person, "phone_ct")
        if phone:
            claims["phone_number"] = phone
            claims["phone_number_verified"] = person.phone_verified
    if "id_card" in granted and verified:
        number = _plain(protector, person, "id_number_ct")
        if number:
            claims["id_card_number"] = number
            claims["id_card_type"] = person.id_type
    if "org" in granted and roles_apply(person):
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
