"""A seal's usage policy, and the checks a signing request passes before a seal's key is touched.

Each check is a small function; `CHECKS` lists them in the order they run, so the whole decision can be read
at a glance. A refusal names the rule, never personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signing.errors import Forbidden
from signing.models import Seal, SealUsage
from signing.ports import Directory

MEMBER_ROLES = ("seal_keeper", "signer")
MAX_KINDS = 50


@dataclass(frozen=True)
class Policy:
    """Who may use a seal, for what, how often. Empty `clients`/`members` means nobody by that route."""

    clients: frozenset[str] = frozenset()
    members: frozenset[str] = frozenset()  # person ids; they must also hold a seal role in the organisation
    document_kinds: frozenset[str] = frozenset()  # empty: any kind
    daily_cap: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "clients": sorted(self.clients),
            "members": sorted(self.members),
            "document_kinds": sorted(self.document_kinds),
            "daily_cap": self.daily_cap,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        cap = data.get("daily_cap")
        return cls(
            clients=frozenset(data.get("clients") or ()),
            members=frozenset(data.get("members") or ()),
            document_kinds=frozenset(data.get("document_kinds") or ()),
            daily_cap=int(cap) if cap is not None else None,
        )


@dataclass(frozen=True)
class Requester:
    """Who asks for a seal: the operator at the command line, an API client, or an organisation member."""

    kind: str  # operator, client, member
    name: str  # for records and audit: operator name, client id, or person id
    channel: str = "cli"
    client_id: str | None = None
    person_id: str | None = None


@dataclass(frozen=True)
class Request:
    seal: Seal
    policy: Policy
    requester: Requester
    document_kind: str | None
    now: datetime
    directory: Directory  # where the acting member's roles are looked up
    extra: dict[str, Any] = field(default_factory=dict)


def check_active(session: Session, req: Request) -> None:
    if req.seal.status != "active":
        raise Forbidden(f"seal {req.seal.id} is {req.seal.status}")
    if not req.seal.valid_from <= req.now <= req.seal.valid_to:
        raise Forbidden(f"seal {req.seal.id} is outside its validity period")


def check_client(session: Session, req: Request) -> None:
    if req.requester.kind == "client" and req.requester.client_id not in req.policy.clients:
        raise Forbidden(f"the policy of seal {req.seal.id} does not allow client {req.requester.client_id}")


def check_member(session: Session, req: Request) -> None:
    if req.requester.kind != "member":
        return
    person = req.requester.person_id
    if person not in req.policy.members:
        raise Forbidden(f"the policy of seal {req.seal.id} does not allow this member")
    assert person is not None
    if not req.directory.member_roles(session, req.seal.org_id, person) & frozenset(
        MEMBER_ROLES
    ):  # allowed once, but no longer holds a seal role in the organisation
        raise Forbidden("the requester no longer holds a seal role in the organisation")


def check_kind(session: Session, req: Request) -> None:
    kinds = req.policy.document_kinds
    if kinds and req.document_kind not in kinds:
        shown = req.document_kind or "(none given)"
        raise Forbidden(f"the policy of seal {req.seal.id} does not cover documents of kind {shown}")


def check_daily_cap(session: Session, req: Request) -> None:
    """Count this signature against today's cap (UTC day). The UPDATE's row lock serialises concurrent
    requests on PostgreSQL (and SQLite writers are serial anyway), so the cap is never overshot."""
    day = req.now.date().isoformat()
    bump = update(SealUsage).where(SealUsage.seal_id == req.seal.id, SealUsage.day == day)
    if session.execute(bump.values(count=SealUsage.count + 1)).rowcount == 0:  # type: ignore[attr-defined]
        try:
            with session.begin_nested():  # the day's first signature; another node may be inserting it too
                session.add(SealUsage(seal_id=req.seal.id, day=day, count=1))
        except IntegrityError:
            session.execute(bump.values(count=SealUsage.count + 1))
    used = session.scalar(select(SealUsage.count).where(SealUsage.seal_id == req.seal.id, SealUsage.day == day))
    cap = req.policy.daily_cap
    if cap is not None and (used or 0) > cap:
        raise Forbidden(f"seal {req.seal.id} has reached its daily cap of {cap} signatures")


# The whole decision, in order. The cap is last: a refused request must not use up the day's allowance
# (the caller's transaction rolls the count back on any later failure too).
CHECKS: tuple[Callable[[Session, Request], None], ...] = (
    check_active,
    check_client,
    check_member,
    check_kind,
    check_daily_cap,
)


def authorise(session: Session, req: Request) -> None:
    for check in CHECKS:
        check(session, req)
