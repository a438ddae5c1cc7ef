"""Binding an ID number to a person by a proof of ownership; a stronger proof wins a conflict.

A person holds at most one ID number and a number at most one person (the unique blind index). When a second
person proves ownership of a held number:

- with a stronger proof (idp/proofing/strength.py) the holder's binding is revoked — number, name, level and
  face template go, their SSO sessions end and their tokens are revoked, organisation roles granted by that
  number follow it to the new holder — and the number is bound to the claimant;
- with an equal or weaker proof the claim is refused (Conflict).

Both outcomes are recorded as an `IdConflict` for operators and audited. Callers run this in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from idp import audit
from idp.db import utcnow
from idp.errors import Conflict
from idp.masking import mask
from idp.oauth import sessions, tokens
from idp.proofing import strength
from idp.proofing.models import FaceTemplate, IdClaim, IdConflict
from idp.records import people
from idp.records.models import Membership, Organisation, Person
from keys.protector import Protector


class BindingRefused(Conflict):
    """An equal or stronger proof holds the number. Carries what `record_refusal` keeps for operators, in a
    transaction of its own (the refused one keeps nothing)."""

    def __init__(self, detail: str, *, bidx: str, holder: str, holder_proof: int, claimant: str, proof: int,
                 source: str) -> None:  # fmt: skip
        super().__init__(detail)
        self.bidx, self.holder, self.holder_proof = bidx, holder, holder_proof
        self.claimant, self.proof, self.source = claimant, proof, source


@dataclass(frozen=True)
class Bound:
    person_id: str
    proof: int
    level: int
    revoked: str | None = None
    """The person whose weaker binding this proof took over, if any."""


def _record_conflict(
    session: Session, bidx: str, holder: str, holder_proof: int, claimant: str, proof: int, source: str,
    outcome: str, channel: str,
) -> None:  # fmt: skip
    session.add(
        IdConflict(
            id_number_bidx=bidx,
            holder_id=holder,
            claimant_id=claimant,
            holder_proof=holder_proof,
            claimant_proof=proof,
            claimant_source=source,
            outcome=outcome,
        )
    )
    detail = {"holder": holder, "claimant": claimant, "holder_proof": holder_proof, "claimant_proof": proof}
    audit.record(
        session,
        audit.Event(
            action="proofing.conflict",
            subject=claimant,
            actor=claimant,
            channel=channel,
            outcome="success" if outcome == "revoked" else "refused",
            detail={**detail, "source": source, "outcome": outcome},
        ),
    )


def revoke(session: Session, holder: Person, *, winner: Person | None, deny_until: int, channel: str) -> None:
    """Take the ID binding away from `holder`: identity, level, face template, sessions and tokens."""
    old_proof = holder.id_proof
    holder.id_number_bidx = None
    holder.id_number_ct = None
    holder.name_ct = None
    holder.id_type = None
    holder.id_proof, holder.id_proof_source = strength.NONE, None
    holder.proofing_level = 1
    holder.proofing_evidence = [
        *holder.proofing_evidence,
        {"level": 1, "source": "revoked", "at": utcnow().isoformat(timespec="seconds")},
    ]
    session.execute(delete(FaceTemplate).where(FaceTemplate.person_id == holder.id))
    if winner is not None:
        # Roles were granted to the number, not to whoever held it: they follow it to its proven owner.
        session.execute(update(Membership).where(Membership.person_id == holder.id).values(person_id=winner.id))
        session.execute(
            update(Organisation).where(Organisation.legal_rep_id == holder.id).values(legal_rep_id=winner.id)
        )
    ended = sessions.end_all_for(session, holder.id)
    revoked_tokens = tokens.revoke_all_for(session, holder.id, deny_until)
    session.flush()  # free the unique blind index before the winner takes it
    audit.record(
        session,
        audit.Event(
            action="proofing.binding_revoked",
            subject=holder.id,
            actor=winner.id if winner else "operator",
            channel=channel,
            detail={"proof": old_proof, "sessions": len(ended), "tokens": revoked_tokens},
        ),
    )


def prove(
    session: Session,
    protector: Protector,
    person_id: str,
    *,
    id_number: str,
    name: str,
    source: str,
    channel: str,
    deny_until: int,
) -> Bound:
    """Bind `id_number` (and `name`) to the person on the strength of `source`; raise their level to match."""
    proof, level = strength.of(source), strength.LEVEL[source]
    number, id_type = people.normalise_id_number(id_number)
    bidx = protector.index("id_number", number)
    person = people.get(session, person_id)
    if person.id_number_bidx is not None and person.id_number_bidx != bidx:
        raise Conflict(f"a different ID number is bound to this account (not {mask(number, 'id_number')})")
    revoked = None
    if person.id_number_bidx is None:
        holder = session.scalar(select(Person).where(Person.id_number_bidx == bidx))
        if holder is not None:
            if proof <= holder.id_proof:
                raise BindingRefused(
                    f"ID number {mask(number, 'id_number')} is bound to another account by an equal or stronger "
                    "proof; a service counter can resolve this",
                    bidx=bidx, holder=holder.id, holder_proof=holder.id_proof, claimant=person.id, proof=proof,
                    source=source,
                )  # fmt: skip
            holder_proof = holder.id_proof
            revoke(session, holder, winner=person, deny_until=deny_until, channel=channel)
            _record_conflict(session, bidx, holder.id, holder_proof, person.id, proof, source, "revoked", channel)
            revoked = holder.id
        people.bind_id_number(
            session, protector, person.id, id_number=number, name=name, actor=person.id, channel=channel,
            proof=proof, source=source,
        )  # fmt: skip
    elif proof > person.id_proof:
        person.id_proof, person.id_proof_source = proof, source
    person.id_type = id_type
    person.proofing_level = max(person.proofing_level, level)
    person.proofing_evidence = [
        *person.proofing_evidence,
        {"level": level, "source": source, "proof": proof, "at": utcnow().isoformat(timespec="seconds")},
    ]
    session.execute(delete(IdClaim).where(IdClaim.person_id == person.id))
    audit.record(
        session,
        audit.Event(
            action="proofing.raise",
            subject=person.id,
            actor=person.id,
            channel=channel,
            detail={"level": level, "source": source, "proof": proof},
        ),
    )
    return Bound(person.id, max(proof, person.id_proof), person.proofing_level, revoked)


def record_claim(session: Session, protector: Protector, person_id: str, *, name: str, id_number: str) -> None:
    """Remember a registry-matched name and number as the person's claim (replacing an earlier one): no
    level, no binding, not exclusive — only what the next ownership check is about."""
    number, _ = people.normalise_id_number(id_number)
    person = people.get(session, person_id)
    bidx = protector.index("id_number", number)
    if person.id_number_bidx is not None and person.id_number_bidx != bidx:
        raise Conflict("该账户已绑定其他身份证号。A different ID number is bound to this account.")
    claim = session.get(IdClaim, person_id) or IdClaim(person_id=person_id)
    claim.id_number_bidx = bidx
    claim.id_number_ct = protector.encrypt(IdClaim.__tablename__, "id_number_ct", person_id, number)
    claim.name_ct = protector.encrypt(IdClaim.__tablename__, "name_ct", person_id, " ".join(name.split()))
    session.add(claim)


def claimed_identity(session: Session, protector: Protector, person: Person) -> tuple[str, str] | None:
    """(name, ID number) an ownership check is about: the bound ones, else the registry-matched claim."""
    if person.id_number_ct is not None and person.name_ct is not None:
        return (
            protector.decrypt("persons", "name_ct", person.id, person.name_ct),
            protector.decrypt("persons", "id_number_ct", person.id, person.id_number_ct),
        )
    claim = session.get(IdClaim, person.id)
    if claim is None:
        return None
    return (
        protector.decrypt(IdClaim.__tablename__, "name_ct", person.id, claim.name_ct),
        protector.decrypt(IdClaim.__tablename__, "id_number_ct", person.id, claim.id_number_ct),
    )


def record_refusal(session: Session, refused: BindingRefused, channel: str) -> None:
    """Keep a refused claim for operators (`yiwang person conflicts`) and in the audit trail."""
    _record_conflict(
        session, refused.bidx, refused.holder, refused.holder_proof, refused.claimant, refused.proof, refused.source,
        "refused", channel,
    )  # fmt: skip


@dataclass(frozen=True)
class ConflictView:
    at: str
    outcome: str
    holder: str | None
    holder_proof: int
    claimant: str | None
    claimant_proof: int
    source: str


def conflicts(session: Session, limit: int = 100) -> list[ConflictView]:
    """The latest conflicts over ID numbers, newest first; persons by internal id only (no personal data)."""
    rows = session.scalars(select(IdConflict).order_by(IdConflict.created_at.desc()).limit(limit))
    return [
        ConflictView(
            r.created_at.isoformat(timespec="seconds"),
            r.outcome,
            r.holder_id,
            r.holder_proof,
            r.claimant_id,
            r.claimant_proof,
            r.claimant_source,
        )  # fmt: skip
        for r in rows
    ]
