"""The signatures log (admin, seal_manager, auditor): every signature record, newest first, filtered by seal,
organisation, channel, document kind and date. A GET that changes nothing; the filters name no person.

The signer is shown masked (name and phone as `people.view` masks them), never a person's record id: the log
is read by staff who have no business knowing more than "this masked person signed this document hash".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp.records import people
from idp.records.models import Organisation, Person
from idp.runtime import Runtime
from idp.web.console import guard
from idp.web.console.filters import BEIJING, within_days
from idp.web.console.guard import Staff
from idp.web.deps import get_runtime
from signing.models import Seal, SignatureRecord

router = APIRouter(prefix="/console/signatures", tags=["console"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ROLES = ("admin", "seal_manager", "auditor")
LIMIT = 200
Filter = Annotated[str, Query(max_length=64)]


@dataclass(frozen=True)
class Line:
    record: SignatureRecord
    seal: str
    org: str
    signer: str  # masked person, or "-" when an organisation's seal signed for a client


def lines(session: Session, runtime: Runtime, filters: dict[str, str]) -> list[Line]:
    query = select(SignatureRecord).order_by(SignatureRecord.signed_at.desc()).limit(LIMIT)
    if filters["seal"]:
        query = query.where(SignatureRecord.seal_id == filters["seal"])
    if filters["org"]:
        query = query.join(Organisation, Organisation.id == SignatureRecord.org_id).where(
            Organisation.uscc == filters["org"].upper()
        )
    if filters["channel"]:
        query = query.where(SignatureRecord.channel == filters["channel"])
    if filters["kind"]:
        query = query.where(SignatureRecord.document_kind == filters["kind"])
    query = query.where(*within_days(SignatureRecord.signed_at, filters["since"], filters["until"]))
    records = list(session.scalars(query))
    seal_names = dict(session.execute(select(Seal.id, Seal.name)).all())
    orgs = dict(session.execute(select(Organisation.id, Organisation.uscc)).all())
    out = []
    for record in records:
        signer = "-"
        person = session.get(Person, record.person_id) if record.person_id else None
        if person is not None:
            view = people.view(session, runtime.protector, person)
            signer = " ".join(v for v in (view.name, view.phone) if v) or "-"
        out.append(Line(record, seal_names.get(record.seal_id or "", "-"), orgs.get(record.org_id or "", "-"), signer))
    return out


@router.get("")
async def signatures_page(
    request: Request,
    runtime: RuntimeDep,
    staff: Annotated[Staff, Depends(guard.guard(*ROLES))],
    seal: Filter = "",
    org: Filter = "",
    channel: Filter = "",
    kind: Filter = "",
    since: Filter = "",
    until: Filter = "",
) -> Response:
    filters = {"seal": seal.strip(), "org": org.strip(), "channel": channel.strip(), "kind": kind.strip(),
               "since": since, "until": until}  # fmt: skip

    def work() -> dict[str, Any]:
        with runtime.reading() as session:
            channels = sorted(session.scalars(select(SignatureRecord.channel).distinct()))
            return {"lines": lines(session, runtime, filters), "channels": channels}

    found = await run_in_threadpool(work)
    return guard.page(
        request, staff, "console_signatures.html", {**found, "f": filters, "limit": LIMIT, "beijing": BEIJING}
    )
