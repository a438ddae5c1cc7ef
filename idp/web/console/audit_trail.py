"""The audit trail (admin, auditor): events filtered by type, time and actor; the whole chain verified
(`idp.audit.verify`, what `yiwang audit verify` runs); one event proven (`idp.audit.proofs.inclusion`, RFC 6962
§2.1.1), the proof checked here and shown, or downloaded as the JSON `yiwang audit prove` prints.

Verifying and proving are POSTs: each is a console action, audited with the staff member as actor. Both read
through a read-only snapshot, as the CLI does, so a long verification holds no write lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp import audit
from idp.audit import proofs
from idp.audit import verify as verifying
from idp.db import read_only
from idp.runtime import Runtime
from idp.web.console import guard
from idp.web.console.filters import BEIJING, within_days
from idp.web.console.guard import Staff
from idp.web.deps import get_runtime

router = APIRouter(prefix="/console/audit", tags=["console"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ROLES = ("admin", "auditor")
LIMIT = 200
Filter = Annotated[str, Query(max_length=200)]


@contextmanager
def _snapshot(runtime: Runtime) -> Iterator[Session]:
    with read_only(runtime.engine) as conn, Session(bind=conn) as session:
        yield session


def events(session: Session, filters: dict[str, str]) -> list[tuple[audit.AuditEvent, int | None]]:
    """The newest events matching the filters, each with its leaf index once sealed."""
    query = select(audit.AuditEvent).order_by(audit.AuditEvent.at.desc(), audit.AuditEvent.id.desc()).limit(LIMIT)
    if filters["action"]:  # "login" matches login and login.*: a type and its sub-types
        action = filters["action"]
        query = query.where((audit.AuditEvent.action == action) | audit.AuditEvent.action.startswith(action + "."))
    if filters["actor"]:
        query = query.where(audit.AuditEvent.actor == filters["actor"])
    if filters["outcome"]:
        query = query.where(audit.AuditEvent.outcome == filters["outcome"])
    query = query.where(*within_days(audit.AuditEvent.at, filters["since"], filters["until"]))
    rows = list(session.scalars(query))
    ids = [row.id for row in rows]
    query_leaves = select(audit.AuditLeaf.event_id, audit.AuditLeaf.idx).where(audit.AuditLeaf.event_id.in_(ids))
    leaves: dict[str, int] = {event_id: idx for event_id, idx in session.execute(query_leaves)}
    return [(row, leaves.get(row.id)) for row in rows]


def _page(request: Request, runtime: Runtime, staff: Staff, filters: dict[str, str], status: int = 200,
          **context: Any) -> Response:  # fmt: skip
    with _snapshot(runtime) as session:
        rows = events(session, filters)
        actions = sorted(session.scalars(select(audit.AuditEvent.action).distinct()))
    kinds = sorted({a.split(".")[0] for a in actions} | set(actions))
    ctx = {"rows": rows, "f": filters, "kinds": kinds, "limit": LIMIT, "beijing": BEIJING}
    return guard.page(request, staff, "console_audit.html", {**ctx, **context}, status)


def _no_filters() -> dict[str, str]:
    return {"action": "", "actor": "", "outcome": "", "since": "", "until": ""}


@router.get("")
async def audit_page(
    request: Request,
    runtime: RuntimeDep,
    staff: Annotated[Staff, Depends(guard.guard(*ROLES))],
    action: Filter = "",
    actor: Filter = "",
    outcome: Filter = "",
    since: Filter = "",
    until: Filter = "",
) -> Response:
    filters = {"action": action.strip(), "actor": actor.strip(), "outcome": outcome.strip(), "since": since,
               "until": until}  # fmt: skip
    return await run_in_threadpool(_page, request, runtime, staff, filters)


def _record(runtime: Runtime, staff: Staff, action: str, subject: str, outcome: str, detail: dict[str, Any]) -> None:
    with runtime.transaction() as session:
        audit.record(session, audit.Event(action=action, subject=subject, actor=staff.person_id, channel="console",
                                          outcome=outcome, detail=detail))  # fmt: skip


@router.post("/verify")
async def verify(
    request: Request, runtime: RuntimeDep, staff: Annotated[Staff, Depends(guard.guard(*ROLES, post=True))]
) -> Response:
    def work() -> Response:
        with _snapshot(runtime) as session:
            report = verifying.verify(session, runtime.master, runtime.settings.issuer)
        _record(runtime, staff, "console.audit_verify", "audit", "success" if report.intact else "broken",
                {"leaves": report.leaves, "heads": report.heads, "problem": report.problem})  # fmt: skip
        return _page(request, runtime, staff, _no_filters(), 200 if report.intact else 409, report=report)

    return await run_in_threadpool(work)


@router.post("/prove")
async def prove(
    request: Request,
    runtime: RuntimeDep,
    staff: Annotated[Staff, Depends(guard.guard(*ROLES, post=True))],
    event_id: Annotated[str, Form(max_length=36)] = "",
    download: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    def work() -> Response:
        event_id_ = event_id.strip()
        try:
            with _snapshot(runtime) as session:
                proof = proofs.inclusion(session, event_id_, content=True)
        except proofs.ProofError as exc:
            _record(runtime, staff, "console.audit_prove", event_id_ or "-", "refused", {"reason": str(exc)})
            return _page(request, runtime, staff, _no_filters(), 404, error=str(exc))
        checked = proofs.check_inclusion(proof)
        _record(runtime, staff, "console.audit_prove", event_id_, "success" if checked else "broken",
                {"leaf_index": proof["leaf_index"], "tree_size": proof["tree_size"]})  # fmt: skip
        if download == "1":
            body = json.dumps(proof, ensure_ascii=False, indent=2, sort_keys=True)
            disposition = f'attachment; filename="audit-proof-{proof["leaf_index"]}.json"'
            response = Response(body, media_type="application/json",
                                headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})  # fmt: skip
            return guard.set_cookie(request, response, staff.cookie)
        shown = json.dumps(proof, ensure_ascii=False, indent=2, sort_keys=True)
        return _page(request, runtime, staff, _no_filters(), proof=proof, proof_ok=checked, proof_json=shown)

    return await run_in_threadpool(work)
