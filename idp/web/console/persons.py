"""Persons (admin; counter staff read-only): find by ID number or phone through the blind index, a masked
view, the level history, and (admin) unlocking a lockout. No full ID number is ever shown."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp.records import people
from idp.records.models import Person
from idp.runtime import Runtime
from idp.staff import persons
from idp.web.console import guard
from idp.web.console.guard import Staff
from idp.web.console.text import console_messages
from idp.web.deps import get_runtime
from idp.web.i18n import pick_language

router = APIRouter(prefix="/console/persons", tags=["console"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
READERS = ("admin", "counter")


@router.get("")
async def persons_page(request: Request, staff: Annotated[Staff, Depends(guard.guard(*READERS))]) -> Response:
    return guard.page(request, staff, "console_persons.html", {})


@router.post("/find")
async def find(
    request: Request,
    runtime: RuntimeDep,
    staff: Annotated[Staff, Depends(guard.guard(*READERS, post=True))],
    query: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A POST so the ID number or phone is never in a URL (logs, history); read-only."""

    def work() -> str | None:
        with runtime.reading() as session:
            person = persons.find(session, runtime.protector, query)
            return person.id if person is not None else None

    found = await run_in_threadpool(work)
    if found is None:
        t = console_messages(pick_language(request))
        return guard.page(request, staff, "console_persons.html", {"error": t["persons_none"]}, 404)
    return guard.redirect(request, staff, f"/console/persons/{found}")


@router.get("/{person_id}")
async def person_page(
    request: Request, runtime: RuntimeDep, person_id: str, staff: Annotated[Staff, Depends(guard.guard(*READERS))]
) -> Response:
    def work() -> dict[str, object] | None:
        with runtime.reading() as session:
            person = session.get(Person, person_id[:36])
            if person is None:
                return None
            return {
                "person": people.view(session, runtime.protector, person),
                "evidence": list(reversed(person.proofing_evidence)),
                "history": persons.history(session, person),
                "locks": persons.lockouts(session, person),
            }

    shown = await run_in_threadpool(work)
    if shown is None:
        t = console_messages(pick_language(request))
        return guard.page(request, staff, "console_persons.html", {"error": t["persons_none"]}, 404)
    notice = request.query_params.get("unlocked") == "1"
    return guard.page(request, staff, "console_person.html", {**shown, "unlocked": notice})


@router.post("/{person_id}/unlock")
async def unlock(
    request: Request,
    runtime: RuntimeDep,
    person_id: str,
    staff: Annotated[Staff, Depends(guard.guard("admin", post=True))],
) -> Response:
    def work() -> bool:
        with runtime.transaction() as session:
            person = session.get(Person, person_id[:36], with_for_update=True)
            if person is None:
                return False
            persons.unlock(session, person, actor=staff.person_id)
            return True

    if not await run_in_threadpool(work):
        t = console_messages(pick_language(request))
        return guard.page(request, staff, "console_persons.html", {"error": t["persons_none"]}, 404)
    return guard.redirect(request, staff, f"/console/persons/{person_id}?unlocked=1")
