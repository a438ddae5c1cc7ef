"""The service-hall counter (issue 9, online-offline mutual recognition), for the `counter` role.

The citizen shows the one-time code from their waiting sign-in and their ID card. Staff type the code and the
card's name and number and look (read-only: the waiting sign-in and who holds the number, masked); after seeing
the card and the person, they record the check (`idp.authn.counter.redeem`: the number bound by the strongest
proof, level 3 with method `counter`, hall and staff member audited). The citizen's device then continues.

Refused, each changing nothing: staff checking themselves, a code unknown / used / expired, an account that
holds another number (or a number an equal counter check bound elsewhere), a hall the staff member's counter
role is not bound to, a role other than `counter`.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp import audit
from idp.authn import counter, fields
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid
from idp.records import people
from idp.records.models import Person
from idp.web.console import guard
from idp.web.console.guard import Staff
from idp.web.console.text import console_messages
from idp.web.deps import get_engine
from idp.web.i18n import pick_language
from keys.envelope import DecryptionError

BEIJING = timezone(timedelta(hours=8))  # China has one time zone and no daylight saving
router = APIRouter(prefix="/console/counter", tags=["console"])
EngineDep = Annotated[Engine, Depends(get_engine)]
Field = Annotated[str, Form(max_length=64)]
SEALED = ("console_sessions", "counter_check")  # the AAD of the sealed form: this purpose, this console session


class _Refused(Exception):
    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


def _halls(request: Request, staff: Staff) -> list[Any]:
    allowed = staff.counter_halls()
    return [h for h in request.app.state.settings.halls if allowed is None or h.id in allowed]


def _form(request: Request, staff: Staff, status: int = 200, **context: Any) -> Response:
    return guard.page(request, staff, "console_counter.html", {"halls": _halls(request, staff), **context}, status)


@router.get("")
async def counter_page(request: Request, staff: Annotated[Staff, Depends(guard.guard("counter"))]) -> Response:
    return _form(request, staff)


def _checked(code: str, name: str, id_number: str) -> tuple[str, str, str] | str:
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == counter.DIGITS):
        return "counter_code_format"
    identity = fields.identity(name, id_number)
    if isinstance(identity, Invalid):
        return "counter_bad_identity"
    return code, identity[0], identity[1]


def _seal(engine: Engine, staff: Staff, values: dict[str, str]) -> str:
    blob = engine.protector.encrypt(*SEALED, staff.session_key, json.dumps(values))
    return base64.urlsafe_b64encode(blob).decode()


def _unseal(engine: Engine, staff: Staff, sealed: str) -> dict[str, str] | None:
    try:
        blob = base64.urlsafe_b64decode(sealed.encode())
        data: dict[str, str] = json.loads(engine.protector.decrypt(*SEALED, staff.session_key, blob))
    except (binascii.Error, DecryptionError, ValueError, KeyError):
        return None
    return data


def _refusal_text(request: Request, reason: str) -> str:
    t = console_messages(pick_language(request))
    return t["counter_refused"].format(reason=t.get(reason, reason))


@router.post("/lookup")
async def lookup(
    request: Request,
    engine: EngineDep,
    staff: Annotated[Staff, Depends(guard.guard("counter", post=True))],
    code: Field = "",
    name: Field = "",
    id_number: Field = "",
    hall: Field = "",
) -> Response:
    """Read-only: the sign-in waiting for this code and who holds the number on the card, masked."""
    checked = _checked(code, name, id_number)
    if isinstance(checked, str):
        return _form(request, staff, 400, error=_refusal_text(request, checked), hall=hall)
    code, checked_name, number = checked

    def look() -> dict[str, Any] | str:
        with engine.reading() as session:
            row = counter.waiting(engine, session, code)
            if row is None:
                return "counter_code_unknown"
            person = session.get(Person, row.person_id)
            holder = people.find_by_id_number(session, engine.protector, number)
            if row.person_id == staff.person_id or (holder is not None and holder.id == staff.person_id):
                return "counter_self"
            assert person is not None
            view = people.view(session, engine.protector, person)
            held = people.view(session, engine.protector, holder) if holder is not None else None
            return {
                "waiting": view,
                "expires_at": row.expires_at.astimezone(BEIJING),
                "holder": None if holder is None else ("same" if holder.id == person.id else "other"),
                "holder_view": held,
                "holder_proof": holder.id_proof if holder is not None else 0,
            }

    found = await run_in_threadpool(look)
    if isinstance(found, str):
        return _form(request, staff, 400, error=_refusal_text(request, found), hall=hall)
    sealed = _seal(engine, staff, {"code": code, "name": checked_name, "id_number": number, "hall": hall})
    return _form(request, staff, found=found, sealed=sealed, hall=hall)


@router.post("/check")
async def check(
    request: Request,
    engine: EngineDep,
    staff: Annotated[Staff, Depends(guard.guard("counter", post=True))],
    sealed: Annotated[str, Form(max_length=2000)] = "",
    confirm: Field = "",
) -> Response:
    """Record the in-person check: one transaction, or nothing at all."""
    values = _unseal(engine, staff, sealed)

    def record() -> str:
        if values is None:
            raise _Refused("counter_code_unknown")
        if confirm != "yes":
            raise _Refused("counter_confirm_required")
        allowed = staff.counter_halls()
        if allowed is not None and values["hall"] not in allowed:
            raise _Refused("counter_other_hall", 403)
        with engine.unit() as session:
            row = counter.waiting(engine, session, values["code"])
            holder = people.find_by_id_number(session, engine.protector, values["id_number"])
            if (row is not None and row.person_id == staff.person_id) or (
                holder is not None and holder.id == staff.person_id
            ):
                raise _Refused("counter_self", 403)
            done = counter.redeem(
                engine,
                session,
                values["code"],
                hall=values["hall"],
                staff=staff.person_id,
                name=values["name"],
                id_number=values["id_number"],
            )
            if isinstance(done, Invalid):
                reason = {"binding_refused": "counter_binding_refused"}.get(done.message, done.message)
                raise _Refused(reason, done.status)
            person = session.get(Person, done)
            assert person is not None
            return people.view(session, engine.protector, person).phone or "-"

    try:
        phone = await run_in_threadpool(record)
    except _Refused as refused:
        await run_in_threadpool(_audit_refusal, engine, staff, refused.reason, values)
        return _form(request, staff, refused.status, error=_refusal_text(request, refused.reason))
    t = console_messages(pick_language(request))
    return _form(request, staff, done=t["counter_done"].format(phone=phone))


def _audit_refusal(engine: Engine, staff: Staff, reason: str, values: dict[str, str] | None) -> None:
    """The refused check kept nothing; what staff tried is audited apart."""
    with engine.unit() as session:
        audit.record(
            session,
            audit.Event(
                action="proofing.counter",
                subject="-",
                actor=staff.person_id,
                channel="counter",
                outcome="refused",
                detail={"reason": reason, "hall": (values or {}).get("hall")},
            ),
        )
