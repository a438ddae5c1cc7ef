"""Organisations, keyed by unified social credit code, with their legal representative and members."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp import audit
from idp.errors import Conflict, InvalidInput, NotFound
from idp.identity import InvalidIdentifier, UsccRules, parse_uscc
from idp.proofing import strength
from idp.records import people
from idp.records.models import Membership, Organisation, Person
from keys.protector import Protector

KINDS = ("department", "enterprise", "other")
ROLES = ("admin", "agent", "seal_keeper", "signer")


@dataclass(frozen=True)
class OrganisationView:
    id: str
    uscc: str
    name: str
    kind: str
    authority: str
    type: str
    region: str
    legal_representative: str | None
    members: list[dict[str, str]] = field(default_factory=list)
    created_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uscc": self.uscc,
            "name": self.name,
            "kind": self.kind,
            "authority": self.authority,
            "type": self.type,
            "region": self.region,
            "legal_representative": self.legal_representative,
            "members": self.members,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def _uscc(value: str, rules: UsccRules) -> str:
    try:
        return parse_uscc(value, rules).code
    except InvalidIdentifier as exc:
        raise InvalidInput(f"invalid unified social credit code: {exc.reason}") from None


def get_by_uscc(session: Session, uscc: str, rules: UsccRules) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.uscc == _uscc(uscc, rules)))
    if org is None:
        raise NotFound(f"no organisation with USCC {uscc.strip().upper()}")
    return org


def listing(session: Session, limit: int = 500) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.name).limit(limit)))


def add(
    session: Session,
    protector: Protector,
    rules: UsccRules,
    *,
    uscc: str,
    name: str,
    kind: str,
    legal_rep_id_number: str | None = None,
    actor: str = "operator",
    channel: str = "cli",
) -> Organisation:
    code = _uscc(uscc, rules)
    clean = " ".join(name.split())
    if not clean or len(clean) > 200:
        raise InvalidInput("an organisation name must be 1 to 200 characters")
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    if session.scalar(select(Organisation.id).where(Organisation.uscc == code)) is not None:
        raise Conflict(f"an organisation with USCC {code} already exists")
    legal_rep = None
    if legal_rep_id_number:
        legal_rep = people.find_by_id_number(session, protector, legal_rep_id_number)
        if legal_rep is None:
            raise NotFound("the legal representative is not a registered person")
    org = Organisation(uscc=code, name=clean, kind=kind, legal_rep_id=legal_rep.id if legal_rep else None)
    session.add(org)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"an organisation with USCC {code} already exists") from None
    audit.record(
        session,
        audit.Event(action="org.add", subject=code, actor=actor, channel=channel, detail={"kind": kind}),
    )
    return org


def add_member(
    session: Session,
    protector: Protector,
    rules: UsccRules,
    *,
    uscc: str,
    id_number: str,
    role: str,
    actor: str = "operator",
    channel: str = "cli",
) -> Membership:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    org = get_by_uscc(session, uscc, rules)
    person = people.find_by_id_number(session, protector, id_number)
    if person is None:
        raise NotFound("no person with that ID number")
    if person.id_proof < strength.ROLES_NEED:
        # Knowing a name and number is not owning them: a role goes only to a holder who proved the number.
        raise Conflict("the account holding that ID number has not proven it; roles wait for a proven holder")
    exists = session.scalar(
        select(Membership.id).where(
            Membership.org_id == org.id, Membership.person_id == person.id, Membership.role == role
        )
    )
    if exists is not None:
        raise Conflict(f"that person already has the role {role}")
    member = Membership(org_id=org.id, person_id=person.id, role=role)
    session.add(member)
    session.flush()
    audit.record(
        session,
        audit.Event(
            action="org.member_add",
            subject=org.uscc,
            actor=actor,
            channel=channel,
            detail={"person": person.id, "role": role},
        ),
    )
    return member


def roles_apply(person: Person) -> bool:
    """Roles granted by ID number count for this account only while its binding of that number is proven."""
    return person.id_number_bidx is not None and person.id_proof >= strength.ROLES_NEED


def view(session: Session, protector: Protector, rules: UsccRules, org: Organisation) -> OrganisationView:
    parsed = parse_uscc(org.uscc, rules)
    members = []
    for m in session.scalars(select(Membership).where(Membership.org_id == org.id).order_by(Membership.created_at)):
        pv = people.view(session, protector, people.get(session, m.person_id))
        members.append({"person": pv.id, "name": pv.name or "", "role": m.role})
    legal = None
    if org.legal_rep_id:
        legal = people.view(session, protector, people.get(session, org.legal_rep_id)).name
    return OrganisationView(
        id=org.id,
        uscc=org.uscc,
        name=org.name,
        kind=org.kind,
        authority=" ".join(filter(None, [parsed.authority_code, parsed.authority_name])),
        type=" ".join(filter(None, [parsed.type_code, parsed.type_name])),
        region=" ".join(filter(None, [parsed.region_code, parsed.region_name])),
        legal_representative=legal,
        members=members,
        created_at=org.created_at,
    )
