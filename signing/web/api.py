"""The signing REST API (`/signing/v1`): seal a PDF, list an organisation's signature records, verify any PDF,
and a citizen's own signature after confirming the document on a page of ours.

Machine clients authenticate with a client_credentials access token (scope `seal`); each seal's policy names
the clients that may use it. Citizens' signatures need their own token (scope `sign`) from a loa:3
authentication at most five minutes old (see `signing.citizen`). The work is in `signing.*`; this module
moves bytes, maps requests to calls and errors to problems.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from signing import citizen, pades, sealing, verify
from signing.context import SigningContext
from signing.errors import Conflict, Forbidden, InvalidInput, PayloadTooLarge, Unauthorized
from signing.models import Seal
from signing.policy import Policy, Requester
from signing.ports import AuditEvent
from signing.web.host import Caller, HostDep, SigningDep, WebHost, require_token

router = APIRouter(prefix="/signing/v1", tags=["signing"])

SealToken = Annotated[Caller, Depends(require_token("seal"))]
SignToken = Annotated[Caller, Depends(require_token("sign"))]
MULTIPART_SLACK = 64 * 1024  # form fields and part headers around the file


async def read_pdf(request: Request, upload: UploadFile | None, limit: int | None = None) -> bytes:
    """The uploaded PDF's bytes; over the limit is a 413 before (or while) reading, never after storing it."""
    limit = limit or pades.MAX_PDF_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        raise PayloadTooLarge(f"the upload is larger than {limit} bytes")
    if upload is None:
        raise InvalidInput("send the PDF as the multipart field `file`")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the upload is larger than {limit} bytes")
    if not data:
        raise InvalidInput("the uploaded file is empty")
    return data


def _pdf_response(result: pades.SignedPdf, record_id: str) -> Response:
    headers = {
        "X-Signature-Record": record_id,
        "X-Document-SHA256": result.document_sha256,
        "X-Signed-SHA256": result.signed_sha256,
        "X-PAdES-Level": result.level,
        "Content-Disposition": 'attachment; filename="signed.pdf"',
    }
    if result.tsa_serial is not None:
        headers["X-Timestamp-Serial"] = format(result.tsa_serial, "x")
    return Response(result.data, media_type="application/pdf", headers=headers)


def _client(token: Caller) -> Requester:
    return Requester(kind="client", name=token.client_id, channel="api", client_id=token.client_id)


@router.post("/seals/{seal_id}/sign")
async def seal_sign(
    seal_id: str,
    request: Request,
    ctx: SigningDep,
    token: SealToken,
    file: UploadFile | None = None,
    page: Annotated[int, Form()] = 1,
    x: Annotated[float, Form()] = 380.0,
    y: Annotated[float, Form()] = 80.0,
    width: Annotated[float, Form()] = 120.0,
    level: Annotated[str, Form()] = pades.B_LT,
    kind: Annotated[str | None, Form()] = None,
) -> Response:
    """Seal the uploaded PDF (multipart `file` + placement); the seal's policy must allow this client."""
    document = await read_pdf(request, file)
    placement = pades.Placement(page=page, x=x, y=y, width=width)
    result = await run_in_threadpool(
        sealing.seal_document,
        ctx,
        seal_id,
        document,
        placement,
        requester=_client(token),
        document_kind=kind,
        level=level,
    )
    return _pdf_response(result.signed, result.record_id)


def _allowed_seals(ctx: SigningContext, client_id: str, org_id: str | None = None) -> list[Seal]:
    with ctx.services.transaction() as session:
        query = select(Seal)
        if org_id is not None:
            query = query.where(Seal.org_id == org_id)
        rows = list(session.scalars(query))
        for row in rows:
            session.expunge(row)
    return [row for row in rows if client_id in Policy.from_dict(row.policy).clients]


@router.get("/seals")
def seals_for_client(ctx: SigningDep, token: SealToken) -> dict[str, Any]:
    """The seals whose policy names this client."""
    return {
        "seals": [
            {"id": s.id, "type": s.type, "name": s.name, "status": s.status, "valid_to": s.valid_to.isoformat()}
            for s in _allowed_seals(ctx, token.client_id)
        ]
    }


@router.get("/signatures")
def signature_records(
    ctx: SigningDep,
    token: SealToken,
    org: Annotated[str, Query(description="The organisation's USCC.")],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[datetime | None, Query(description="Only records signed before this time.")] = None,
) -> dict[str, Any]:
    """An organisation's signature records, newest first; for clients its seals' policies name."""
    with ctx.services.transaction() as session:
        organisation = ctx.services.directory.organisation(session, org)
        org_id, uscc = organisation.id, organisation.uscc
    if not _allowed_seals(ctx, token.client_id, org_id):
        raise Forbidden("this client may not use any seal of that organisation")
    with ctx.services.transaction() as session:
        rows = sealing.records_for_org(session, org_id, limit=limit, before=before)
        return {"org": uscc, "signatures": [sealing.record_dict(r) for r in rows]}


@router.post("/verify")
async def verify_pdf(request: Request, ctx: SigningDep, file: UploadFile | None = None) -> JSONResponse:
    """Verify every signature in the uploaded PDF (no token: anyone may check a seal). 200 with the report,
    whatever the verdict (`valid`); a PDF that cannot be read is a 422 problem."""
    document = await read_pdf(request, file)

    def work() -> dict[str, Any]:
        with ctx.services.transaction() as session:
            trust = verify.trust_from(session, ctx.authority)
        report = verify.verify_pdf(document, trust)
        return {"document_sha256": hashlib.sha256(document).hexdigest(), **report.to_dict()}

    return JSONResponse(await run_in_threadpool(work))


# --- a citizen's own signature -------------------------------------------------------------------------------


@router.post("/sign")
async def citizen_sign(
    request: Request,
    ctx: SigningDep,
    token: SignToken,
    file: UploadFile | None = None,
    confirmation: Annotated[str | None, Form()] = None,
    page: Annotated[int, Form()] = 1,
    x: Annotated[float, Form()] = 380.0,
    y: Annotated[float, Form()] = 80.0,
    width: Annotated[float, Form()] = 120.0,
) -> Response:
    """Without `confirmation`: store the document and answer 202 with the page where the person confirms it.
    With it: sign the (same) document with a one-time certificate in the person's name."""
    grant = citizen.Grant.of(token.person_id, token.client_id, token.acr, token.auth_time)
    document = await read_pdf(request, file, citizen.MAX_DOCUMENT_BYTES)
    if confirmation is None:
        placement = pades.Placement(page=page, x=x, y=y, width=width)
        pending = await run_in_threadpool(citizen.start, ctx, grant, document, placement)
        return JSONResponse(
            {
                "confirmation": pending.id,
                "confirm_url": pending.url,
                "document_sha256": pending.document_sha256,
                "expires_at": pending.expires_at.isoformat(),
            },
            status_code=202,
        )
    result = await run_in_threadpool(citizen.complete, ctx, grant, confirmation, document)
    return _pdf_response(result.signed, result.record_id)


# --- the confirmation page (for people, in a browser signed in to us) ---------------------------------------


def _signed_in_person(request: Request, host: WebHost, ctx: SigningContext) -> str:
    """The person of this browser's SSO session, which must itself be loa:3 and fresh."""
    with ctx.services.transaction() as session:
        login = host.login(request, session)
        if login is None:
            raise Unauthorized("请先登录（实人认证）再确认签署。Sign in (with identity verification) to confirm.")
        citizen.check_authentication(login.person_id, login.acr, login.auth_time)
        return login.person_id


@router.get("/confirm/{confirmation_id}")
def confirm_page(confirmation_id: str, request: Request, ctx: SigningDep, host: HostDep, k: str = "") -> Response:
    person_id = _signed_in_person(request, host, ctx)
    with ctx.services.transaction() as session:
        row = citizen.for_person(session, confirmation_id, k, person_id)
        if row.status != "pending":
            raise Conflict("这份文件已确认过。This document was already confirmed.")
        name = host.client_name(session, row.client_id)
        digest = row.document_sha256
    page = host.render(
        request,
        "sign_confirm.html",
        {
            "client_name": name,
            "document_sha256": digest,
            "document_url": f"/signing/v1/confirm/{confirmation_id}/document?k={k}",
            "confirmation_id": confirmation_id,
            "secret": k,
            "csrf": host.csrf_token(request, "sign-confirm", confirmation_id),
        },
    )
    page.headers["Cache-Control"] = "no-store"
    return host.finish(request, page)


@router.get("/confirm/{confirmation_id}/document")
def confirm_document(confirmation_id: str, request: Request, ctx: SigningDep, host: HostDep, k: str = "") -> Response:
    """The document the page shows, to the person it was sent to only."""
    person_id = _signed_in_person(request, host, ctx)
    with ctx.services.transaction() as session:
        row = citizen.for_person(session, confirmation_id, k, person_id)
        document = citizen.document_for(session, ctx.services.protection, row)
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="document.pdf"', "Cache-Control": "no-store"},
    )


@router.post("/confirm/{confirmation_id}")
def confirm_submit(
    confirmation_id: str,
    request: Request,
    ctx: SigningDep,
    host: HostDep,
    k: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    document_sha256: Annotated[str, Form()] = "",
) -> Response:
    person_id = _signed_in_person(request, host, ctx)
    host.check_csrf(request, csrf, "sign-confirm", confirmation_id)

    def work(session: Session) -> tuple[str, str]:
        row = citizen.confirm(session, ctx.services.audit, confirmation_id, k, person_id, document_sha256)
        return host.client_name(session, row.client_id), row.document_sha256

    refusal = AuditEvent(action="sign.confirm", subject=confirmation_id[:36], actor=person_id, channel="web")
    name, digest = ctx.run(work, refusal=refusal)
    return host.render(request, "sign_confirmed.html", {"client_name": name, "document_sha256": digest})
