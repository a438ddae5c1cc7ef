"""Console roles: granted to an ID number, held by the account that has proven it owns that number.

| role | does |
|---|---|
| `admin` | everything below but counter checks; grants and revokes roles; unlocks lockouts |
| `client_manager` | relying parties |
| `seal_manager` | organisation seals |
| `counter` | in-person checks at a service-hall counter (optionally bound to one hall); persons, read-only |
| `auditor` | the audit trail, read-only |

A role is granted to the number (its blind index), never to whichever account holds it today: when a stronger
proof moves the number to another account (idp/proofing/binding.py) the role follows it, and it applies only
while the holder's binding is proven by the holder's own ownership check (`STAFF_NEEDS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.errors import Conflict, InvalidInput, NotFound
from idp.masking import mask
from idp.proofing import strength
from idp.records import people
from idp.records.models import Person
from idp.staff.models import StaffRole
from keys.protector import Protector

ROLES = ("admin", "client_manager", "seal_manager", "counter", "auditor")

STAFF_NEEDS = strength.CARRIER
"""Staff roles apply only to a holder whose binding is the holder's own proof of ownership (carrier, bank card,
face, counter). An operator's enrolment (strength 1) is enough for organisation roles, not for staff: the
console needs loa:2 anyway, and an operator must not be able to make a staff member by typing a number."""


@dataclass(frozen=True)
class Held:
    role: str
    hall: str | None


@dataclass(frozen=True)
class Listed:
    role: str
    hall: str | None
    holder: str | None  # the proven holder's internal id, None while nobody has proven the number
    id_number: str | None  # masked
    name: str | None  # masked
    granted_by: str
    granted_at: str


def _bidx(protector: Protector, id_number: str) -> str:
    number, _ = people.normalise_id_number(id_number)
    return protector.index("id_number", number)


def _check(role: str, hall: str | None, halls: set[str]) -> None:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if hall is not None and role != "counter":
        raise InvalidInput("only the counter role is bound to a hall")
    if hall is not None and hall not in halls:
        raise InvalidInput(f"unknown hall {hall!r}; use one of {', '.join(sorted(halls))}")


def grant(
    session: Session,
    protector: Protector,
    *,
    id_number: str,
    role: str,
    hall: str | None,
    halls: set[str],
    actor: str,
    channel: str,
) -> None:
    _check(role, hall, halls)
    bidx = _bidx(protector, id_number)
    if session.scalar(select(StaffRole.id).where(StaffRole.id_number_bidx == bidx, StaffRole.role == role)):
        raise Conflict(f"{mask(id_number, 'id_number')} already holds the role {role}")
    session.add(StaffRole(id_number_bidx=bidx, role=role, hall=hall, granted_by=actor))
    session.flush()
    audit.record(
        session,
        audit.Event(
            action="staff.grant",
            subject=mask(id_number, "id_number"),
            actor=actor,
            channel=channel,
            detail={"role": role, "hall": hall, "holder": _holder_id(session, bidx)},
        ),
    )


def revoke(session: Session, protector: Protector, *, id_number: str, role: str, actor: str, channel: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    bidx = _bidx(protector, id_number)
    row = session.scalar(select(StaffRole).where(StaffRole.id_number_bidx == bidx, StaffRole.role == role))
    if row is None:
        raise NotFound(f"{mask(id_number, 'id_number')} does not hold the role {role}")
    session.delete(row)
    audit.record(
        session,
        audit.Event(
            action="staff.revoke",
            subject=mask(id_number, "id_number"),
            actor=actor,
            channel=channel,
            detail={"role": role, "holder": _holder_id(session, bidx)},
        ),
    )


def _holder(session: Session, bidx: str) -> Person | None:
    person = session.scalar(select(Person).where(Person.id_number_bidx == bidx))
    return person if person is not None and person.id_proof >= STAFF_NEEDS else None


def _holder_id(session: Session, bidx: str) -> str | None:
    holder = _holder(session, bidx)
    return holder.id if holder else None


def held(session: Session, person: Person) -> list[Held]:
    """The roles this person holds now: none unless their ID number is bound by their own proof."""
    if person.id_number_bidx is None or person.id_proof < STAFF_NEEDS:
        return []
    rows = session.scalars(
        select(StaffRole).where(StaffRole.id_number_bidx == person.id_number_bidx).order_by(StaffRole.role)
    )
    return [Held(r.role, r.hall) for r in rows]


def listing(session: Session, protector: Protector) -> list[Listed]:
    """Every grant, with its holder masked (nothing readable when nobody has proven the number yet)."""
    out = []
    for row in session.scalars(select(StaffRole).order_by(StaffRole.granted_at, StaffRole.role)):
        holder = _holder(session, row.id_number_bidx)
        view = people.view(session, protector, holder) if holder is not None else None
        out.append(
            Listed(
                role=row.role,
                hall=row.hall,
                holder=holder.id if holder else None,
                id_number=view.id_number if view else None,
                name=view.name if view else None,
                granted_by=row.granted_by,
                granted_at=row.granted_at.isoformat(timespec="seconds"),
            )
        )
    return out


def revoke_grant(session: Session, grant_id: str, *, actor: str, channel: str) -> None:
    """Revoke one grant by its id (what the console shows: it never holds the number itself)."""
    row = session.get(StaffRole, grant_id)
    if row is None:
        raise NotFound("no such role grant")
    holder = _holder_id(session, row.id_number_bidx)
    session.delete(row)
    audit.record(
        session,
        audit.Event(
            action="staff.revoke",
            subject=holder or grant_id,
            actor=actor,
            channel=channel,
            detail={"role": row.role, "holder": holder},
        ),
    )


def grants(session: Session) -> list[StaffRole]:
    return list(session.scalars(select(StaffRole).order_by(StaffRole.granted_at, StaffRole.role)))
