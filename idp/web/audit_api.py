"""The audit log's public face: signed tree heads, the audit key, proofs; and a citizen's own events with proofs.

Public answers carry hashes only (never an event's content): anyone can check that a head is signed and that
heads are consistent; an event id (a random UUID) with its inclusion proof shows only that it is in the log.
A signed-in person also gets the content of their own events (they are its actor or subject), so they can
recompute the leaf themselves. Reads use a read-only connection: no GET writes (or waits for a writer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from idp.audit import heads, proofs, sequencer
from idp.audit.events import AuditEvent
from idp.db import read_only
from idp.errors import NotFound, Unauthorized
from idp.oauth import sessions
from idp.web.deps import RuntimeDep

router = APIRouter(tags=["audit"])
T = TypeVar("T")
EventId = Annotated[str, Query(min_length=1, max_length=36)]
Size = Annotated[int, Query(ge=1, le=2**31 - 1)]


def _read(runtime: RuntimeDep, work: Callable[[Session], T]) -> T:
    with read_only(runtime.engine) as conn, Session(bind=conn) as session:
        try:
            return work(session)
        except proofs.ProofError as exc:
            raise NotFound(str(exc)) from None


def _json(body: Any) -> Response:
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/audit/v1/sth")
async def latest_tree_head(runtime: RuntimeDep) -> Response:
    def work(session: Session) -> dict[str, Any]:
        row = sequencer.latest_head(session)
        if row is None:
            raise proofs.ProofError("no signed tree head yet")
        return heads.public(row).as_dict()

    return _json(await run_in_threadpool(_read, runtime, work))


@router.get("/audit/v1/keys")
async def audit_keys(runtime: RuntimeDep) -> Response:
    return _json(await run_in_threadpool(_read, runtime, heads.jwks))


@router.get("/audit/v1/proof/inclusion")
async def inclusion_proof(runtime: RuntimeDep, event_id: EventId, tree_size: Size | None = None) -> Response:
    return _json(await run_in_threadpool(_read, runtime, lambda s: proofs.inclusion(s, event_id, tree_size)))


@router.get("/audit/v1/proof/consistency")
async def consistency_proof(runtime: RuntimeDep, first: Size, second: Size | None = None) -> Response:
    return _json(await run_in_threadpool(_read, runtime, lambda s: proofs.consistency(s, first, second)))


@router.get("/account/audit/{event_id}")
async def my_event(request: Request, runtime: RuntimeDep, event_id: str) -> Response:
    """One of the signed-in person's own events (a signature, a consent), its content and inclusion proof."""

    def work(session: Session) -> dict[str, Any]:
        login = sessions.load(session, request.cookies.get(sessions.COOKIE))
        if login is None:
            raise Unauthorized("sign in to see your own records")
        event = session.get(AuditEvent, event_id[:36])
        if event is None or login.person_id not in (event.actor, event.subject):
            raise proofs.ProofError(f"no event {event_id[:36]} of yours")
        return proofs.inclusion(session, event.id, content=True)

    return _json(await run_in_threadpool(_read, runtime, work))
