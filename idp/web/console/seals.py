"""Seals (admin, seal_manager): the list with today's use against each daily cap, a new seal with its drawn image
previewed first, policy editing, and revoking (dangerous: the second factor is asked again when older than
`console_reauth_s`).

The work is signing's own (`signing.seals`, `signing.seal_image`, `signing.gb_seals`), done in its context with
the staff member as actor on channel `console`, so the audit trail names who did it. Only PAdES seals are made
here (a national-format seal needs the CLI's `--format gb38540`); either kind can be revoked.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp.records import people
from idp.records.models import Organisation, Person
from idp.runtime import Runtime
from idp.web.console import guard
from idp.web.console.guard import Staff
from idp.web.console.text import console_messages
from idp.web.deps import get_runtime
from idp.web.i18n import pick_language
from keys.schema import utcnow
from signing import crl, gb_seals, national, seal_image, seals
from signing.context import SigningContext
from signing.errors import Conflict, InvalidInput, SigningError
from signing.models import Seal, SealUsage
from signing.policy import Policy
from signing.ports import AuditEvent

router = APIRouter(prefix="/console/seals", tags=["console"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ROLES = ("admin", "seal_manager")
BACK = "/console/seals"
Text = Annotated[str, Form(max_length=2000)]
Short = Annotated[str, Form(max_length=64)]


@dataclass(frozen=True)
class Row:
    view: seals.SealView
    used_today: int
    cap: int | None
    format: str


def _signing(request: Request) -> SigningContext:
    ctx: SigningContext = request.app.state.signing_host.signing(request)
    return ctx


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").replace("，", " ").split() if w]


def _cap(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInput("the daily cap must be a whole number")
    return int(text)


def _rows(session: Session, ctx: SigningContext, only: Seal | None = None) -> list[Row]:
    """Seals with today's use (the UTC day `policy.check_daily_cap` counts in): all of them, or `only` one."""
    today = utcnow().date().isoformat()
    used = dict(session.execute(select(SealUsage.seal_id, SealUsage.count).where(SealUsage.day == today)).all())
    directory = ctx.services.directory
    listed = [only] if only is not None else seals.list_seals(session, directory)
    return [
        Row(seals.view(session, directory, s), used.get(s.id, 0), s.policy.get("daily_cap"), s.format) for s in listed
    ]


def _organisations(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.name)))


def _list_page(request: Request, staff: Staff, status: int = 200, **context: Any) -> Response:
    ctx = _signing(request)
    with get_runtime(request).reading() as session:
        rows, orgs = _rows(session, ctx), _organisations(session)
    base = {"rows": rows, "orgs": orgs, "types": seals.TYPES, "form": {}}
    return guard.page(request, staff, "console_seals.html", {**base, **context}, status)


@router.get("")
async def seals_page(request: Request, staff: Annotated[Staff, Depends(guard.guard(*ROLES))]) -> Response:
    return await run_in_threadpool(_list_page, request, staff)


def _new_seal_form(
    uscc: Short = "",
    seal_type: Short = "",
    clients: Text = "",
    kinds: Text = "",
    daily_cap: Short = "",
    members: Text = "",
) -> dict[str, str]:
    """The new-seal form as typed: previewed and created from the same fields, and shown again as typed."""
    return {"uscc": uscc, "seal_type": seal_type, "clients": clients, "kinds": kinds, "daily_cap": daily_cap,
            "members": members}  # fmt: skip


NewSealForm = Annotated[dict[str, str], Depends(_new_seal_form)]


@router.post("/preview")
async def preview(
    request: Request,
    staff: Annotated[Staff, Depends(guard.guard(*ROLES, post=True))],
    form: NewSealForm,
) -> Response:
    """The seal as it would be drawn, shown above the same form; nothing is kept."""

    def work() -> Response:
        ctx = _signing(request)
        try:
            label = seals.TYPES.get(form["seal_type"])
            if label is None:
                raise InvalidInput(f"seal type must be one of {', '.join(seals.TYPES)}")
            with get_runtime(request).reading() as session:
                org = ctx.services.directory.organisation(session, form["uscc"])
            png = seal_image.draw_seal(org.name, label)
        except SigningError as exc:
            return _list_page(request, staff, exc.status, error=exc.detail, form=form)
        image = "data:image/png;base64," + base64.b64encode(png).decode()
        return _list_page(request, staff, preview=image, preview_name=f"{org.name}{label}", form=form)

    return await run_in_threadpool(work)


@router.post("/create")
async def create(
    request: Request,
    staff: Annotated[Staff, Depends(guard.guard(*ROLES, post=True))],
    form: NewSealForm,
) -> Response:

    def work() -> Response:
        ctx = _signing(request)
        directory = ctx.services.directory

        def make(session: Session) -> str:
            org = directory.organisation(session, form["uscc"])
            member_ids = seals.member_ids(session, directory, org, _words(form["members"]))
            policy = Policy(frozenset(_words(form["clients"])), member_ids, frozenset(_words(form["kinds"])),
                            _cap(form["daily_cap"]))  # fmt: skip
            seal = seals.create(session, ctx, uscc=form["uscc"], seal_type=form["seal_type"], policy=policy,
                                actor=staff.person_id, channel="console")  # fmt: skip
            return seal.id

        refusal = AuditEvent(action="seal.create", subject=form["uscc"].strip()[:18], actor=staff.person_id,
                             channel="console", detail={"type": form["seal_type"][:32]})  # fmt: skip
        try:
            seal_id = ctx.run(make, refusal=refusal)
        except SigningError as exc:
            return _list_page(request, staff, exc.status, error=exc.detail, form=form)
        return guard.redirect(request, staff, f"{BACK}/{seal_id}?created=1")

    return await run_in_threadpool(work)


def _seal_page(request: Request, staff: Staff, seal_id: str, status: int = 200, **context: Any) -> Response:
    ctx = _signing(request)
    runtime: Runtime = get_runtime(request)
    t = console_messages(pick_language(request))
    with runtime.reading() as session:
        try:
            seal = seals.get(session, seal_id)
        except SigningError:
            return guard.page(request, staff, "console_message.html", {"title": "error_title",
                              "text": t["seals_none"]}, 404)  # fmt: skip
        (row,) = _rows(session, ctx, seal)
        members = []
        for person_id in seal.policy.get("members") or []:
            person = session.get(Person, person_id)
            shown = people.view(session, runtime.protector, person) if person is not None else None
            members.append({"id": person_id, "name": shown.name if shown else "-",
                            "id_number": shown.id_number if shown else "-"})  # fmt: skip
    flags = {k: request.query_params.get(k) == v for k, v in
             (("created", "1"), ("saved", "1"), ("revoked", "1"), ("reauth", "done"))}  # fmt: skip
    ctx_out = {"row": row, "members": members, "reasons": crl.REASONS, "flags": flags, "types": seals.TYPES}
    return guard.page(request, staff, "console_seal.html", {**ctx_out, **context}, status)


@router.get("/{seal_id}")
async def seal_page(request: Request, seal_id: str, staff: Annotated[Staff, Depends(guard.guard(*ROLES))]) -> Response:
    return await run_in_threadpool(_seal_page, request, staff, seal_id)


@router.get("/{seal_id}/image.png")
async def seal_png(request: Request, seal_id: str, staff: Annotated[Staff, Depends(guard.guard(*ROLES))]) -> Response:
    def work() -> bytes | None:
        with get_runtime(request).reading() as session:
            try:
                return seals.get(session, seal_id).image_png
            except SigningError:
                return None

    png = await run_in_threadpool(work)
    if png is None:
        return Response(status_code=404)
    return guard.set_cookie(
        request, Response(png, media_type="image/png", headers={"Cache-Control": "no-store"}), staff.cookie
    )


@router.post("/{seal_id}/policy")
async def edit_policy(
    request: Request,
    seal_id: str,
    staff: Annotated[Staff, Depends(guard.guard(*ROLES, post=True))],
    clients: Text = "",
    kinds: Text = "",
    daily_cap: Short = "",
    members: Text = "",
    keep: Annotated[list[str] | None, Form(max_length=36)] = None,
) -> Response:
    """Replace the policy: members kept (ticked, from the current policy only) plus members added by ID number."""

    def work() -> Response:
        ctx = _signing(request)
        directory = ctx.services.directory

        def change(session: Session) -> None:
            seal = seals.get(session, seal_id)
            current = set(seal.policy.get("members") or [])
            kept = {k for k in keep or [] if k in current}
            org = directory.organisation_by_id(session, seal.org_id)
            added = seals.member_ids(session, directory, org, _words(members))
            policy = Policy(frozenset(_words(clients)), frozenset(kept) | added, frozenset(_words(kinds)),
                            _cap(daily_cap))  # fmt: skip
            seals.set_policy(session, ctx.services, seal.id, policy, actor=staff.person_id, channel="console")

        refusal = AuditEvent(action="seal.policy", subject=seal_id[:36], actor=staff.person_id, channel="console")
        try:
            ctx.run(change, refusal=refusal)
        except SigningError as exc:
            return _seal_page(request, staff, seal_id, exc.status, error=exc.detail)
        return guard.redirect(request, staff, f"{BACK}/{seal_id[:36]}?saved=1")

    return await run_in_threadpool(work)


def _revoke(ctx: SigningContext, session: Session, seal_id: str, reason: str, actor: str) -> None:
    seal = seals.get(session, seal_id, lock=True)
    if seal.format != gb_seals.FORMAT:
        seals.revoke(session, ctx, seal.id, reason, actor=actor, channel="console")
        return
    if seal.status == "revoked":
        raise Conflict(f"seal {seal.id} is already revoked")
    try:
        gb_seals.revoke(session, national.gb_context(ctx).authority, seal, reason, national.audit_sink(ctx),
                        actor=actor, channel="console")  # fmt: skip
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


@router.post("/{seal_id}/revoke")
async def revoke(
    request: Request,
    seal_id: str,
    staff: Annotated[Staff, Depends(guard.guard(*ROLES, post=True, fresh=BACK))],
    reason: Short = "",
    confirm: Short = "",
) -> Response:
    def work() -> Response:
        ctx = _signing(request)
        if confirm != "yes":
            t = console_messages(pick_language(request))
            return _seal_page(request, staff, seal_id, 400, error=t["seals_confirm_required"])
        refusal = AuditEvent(action="seal.revoke", subject=seal_id[:36], actor=staff.person_id, channel="console")
        try:
            ctx.run(lambda s: _revoke(ctx, s, seal_id, reason, staff.person_id), refusal=refusal)
        except SigningError as exc:
            return _seal_page(request, staff, seal_id, exc.status, error=exc.detail)
        return guard.redirect(request, staff, f"{BACK}/{seal_id[:36]}?revoked=1")

    return await run_in_threadpool(work)
