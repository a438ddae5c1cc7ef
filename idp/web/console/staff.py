"""Staff and roles (admin): the grants, masked; granting and revoking are dangerous actions, so each asks
again for the second factor when the last one is older than `console_reauth_s`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp.errors import YiwangError
from idp.runtime import Runtime
from idp.staff import roles
from idp.web.console import guard
from idp.web.console.guard import Staff
from idp.web.console.text import console_messages
from idp.web.deps import get_runtime
from idp.web.i18n import pick_language

router = APIRouter(prefix="/console/staff", tags=["console"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
BACK = "/console/staff"


def _page(request: Request, runtime: Runtime, staff: Staff, status: int = 200, **context: object) -> Response:
    with runtime.reading() as session:
        grants = roles.grants(session)
        listed = roles.listing(session, runtime.protector)
    rows = [{"id": g.id, **vars(item)} for g, item in zip(grants, listed, strict=True)]
    halls = request.app.state.settings.halls
    ctx = {
        "rows": rows,
        "roles": roles.ROLES,
        "halls": halls,
        "reauth_done": request.query_params.get("reauth") == "done",
    }
    return guard.page(request, staff, "console_staff.html", {**ctx, **context}, status)


@router.get("")
async def staff_page(
    request: Request, runtime: RuntimeDep, staff: Annotated[Staff, Depends(guard.guard("admin"))]
) -> Response:
    return await run_in_threadpool(_page, request, runtime, staff)


@router.post("/grant")
async def grant(
    request: Request,
    runtime: RuntimeDep,
    staff: Annotated[Staff, Depends(guard.guard("admin", post=True, fresh=BACK))],
    id_number: Annotated[str, Form(max_length=32)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    hall: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    def work() -> Response:
        halls = {h.id for h in request.app.state.settings.halls}
        try:
            runtime.run(
                lambda s: roles.grant(s, runtime.protector, id_number=id_number, role=role, hall=hall or None,
                                      halls=halls, actor=staff.person_id, channel="console")
            )  # fmt: skip
        except YiwangError as exc:
            return _page(request, runtime, staff, exc.status, error=exc.detail)
        return _page(request, runtime, staff, notice=console_messages(pick_language(request))["staff_granted"])

    return await run_in_threadpool(work)


@router.post("/revoke")
async def revoke(
    request: Request,
    runtime: RuntimeDep,
    staff: Annotated[Staff, Depends(guard.guard("admin", post=True, fresh=BACK))],
    grant_id: Annotated[str, Form(max_length=36)] = "",
) -> Response:
    def work() -> Response:
        try:
            runtime.run(lambda s: roles.revoke_grant(s, grant_id, actor=staff.person_id, channel="console"))
        except YiwangError as exc:
            return _page(request, runtime, staff, exc.status, error=exc.detail)
        return _page(request, runtime, staff, notice=console_messages(pick_language(request))["staff_revoked"])

    return await run_in_threadpool(work)
