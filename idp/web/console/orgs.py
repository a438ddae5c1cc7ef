"""Organisations (admin): list, find by unified social credit code, register, and members with their roles.
A front end to `idp.records.organisations`, the same calls as `yiwang org` and `/admin/v1/organisations`.

The USCC and the registered name are public registry data (shown in full); people appear masked, and an ID
number typed to add a member or a legal representative travels only in a POST body.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp import audit
from idp.errors import YiwangError
from idp.records import organisations
from idp.runtime import Runtime
from idp.web.console import guard
from idp.web.console.guard import Staff
from idp.web.console.text import console_messages
from idp.web.deps import get_runtime
from idp.web.i18n import pick_language

router = APIRouter(prefix="/console/orgs", tags=["console"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ADMIN = guard.guard("admin")
ADMIN_POST = guard.guard("admin", post=True)
Field = Annotated[str, Form(max_length=200)]


def _t(request: Request) -> dict[str, str]:
    return console_messages(pick_language(request))


def _list_page(request: Request, runtime: Runtime, staff: Staff, status: int = 200, **ctx: Any) -> Response:
    with runtime.reading() as session:
        rows = organisations.listing(session)
    context = {"orgs": rows, "kinds": organisations.KINDS, "values": {}, **ctx}
    return guard.page(request, staff, "console_orgs.html", context, status)


def _org_page(request: Request, runtime: Runtime, staff: Staff, uscc: str, status: int = 200, **ctx: Any) -> Response:
    try:
        with runtime.reading() as session:
            org = organisations.get_by_uscc(session, uscc, runtime.uscc_rules)
            shown = organisations.view(session, runtime.protector, runtime.uscc_rules, org)
    except YiwangError:
        return _list_page(request, runtime, staff, 404, error=_t(request)["orgs_none"])
    return guard.page(request, staff, "console_org.html", {"org": shown, "roles": organisations.ROLES, **ctx}, status)


def _refusal(staff: Staff, action: str, subject: str) -> audit.Event:
    return audit.Event(action=action, subject=subject[:18] or "-", actor=staff.person_id, channel="console")


@router.get("")
async def orgs_page(request: Request, runtime: RuntimeDep, staff: Annotated[Staff, Depends(ADMIN)]) -> Response:
    return await run_in_threadpool(_list_page, request, runtime, staff)


@router.get("/find")
async def find(
    request: Request, runtime: RuntimeDep, staff: Annotated[Staff, Depends(ADMIN)], uscc: str = ""
) -> Response:
    """A GET: a USCC is public registry data, and the page is a bookmarkable read."""
    code = uscc.strip().upper()[:32]
    if not code:  # an empty search is the list, not "no such organisation"
        return await run_in_threadpool(_list_page, request, runtime, staff)
    return await run_in_threadpool(_org_page, request, runtime, staff, code)


@router.post("/new")
async def add(
    request: Request,
    runtime: RuntimeDep,
    staff: Annotated[Staff, Depends(ADMIN_POST)],
    uscc: Annotated[str, Form(max_length=32)] = "",
    name: Field = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    legal_rep_id_number: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    def work() -> Response:
        try:
            org = runtime.run(
                lambda s: organisations.add(
                    s, runtime.protector, runtime.uscc_rules, uscc=uscc, name=name, kind=kind,
                    legal_rep_id_number=legal_rep_id_number or None, actor=staff.person_id, channel="console",
                ).uscc,
                refusal=_refusal(staff, "org.add", uscc.strip()),
            )  # fmt: skip
        except YiwangError as exc:
            values = {"uscc": uscc, "name": name, "kind": kind}  # the ID number is never sent back
            error = _t(request)["orgs_refused"].format(reason=exc.detail)
            return _list_page(request, runtime, staff, exc.status, error=error, values=values)
        return _org_page(request, runtime, staff, org, notice=_t(request)["orgs_added"])

    return await run_in_threadpool(work)


@router.get("/{uscc}")
async def org_page(
    request: Request, runtime: RuntimeDep, uscc: str, staff: Annotated[Staff, Depends(ADMIN)]
) -> Response:
    return await run_in_threadpool(_org_page, request, runtime, staff, uscc[:32])


@router.post("/{uscc}/members")
async def add_member(
    request: Request,
    runtime: RuntimeDep,
    uscc: str,
    staff: Annotated[Staff, Depends(ADMIN_POST)],
    id_number: Annotated[str, Form(max_length=32)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    def work() -> Response:
        try:
            runtime.run(
                lambda s: organisations.add_member(
                    s, runtime.protector, runtime.uscc_rules, uscc=uscc[:32], id_number=id_number, role=role,
                    actor=staff.person_id, channel="console",
                ),
                refusal=_refusal(staff, "org.member_add", uscc),
            )  # fmt: skip
        except YiwangError as exc:
            error = _t(request)["orgs_refused"].format(reason=exc.detail)
            return _org_page(request, runtime, staff, uscc[:32], exc.status, error=error)
        return _org_page(request, runtime, staff, uscc[:32], notice=_t(request)["orgs_member_added"])

    return await run_in_threadpool(work)
