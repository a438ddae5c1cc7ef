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

from signing import citizen, gb_sealing, national, ofd_seal, ofd_verify, pades, sealing, verify
from signing.context import SigningContext
from signing.errors import Conflict, Forbidden, InvalidInput, PayloadTooLarge, Unauthorized, UnprocessableOfd
from signing.models import Seal
from signing.policy import Policy, Requester
from signing.ports import AuditEvent
from signing.verify_worker import VerifierBusy
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
    x: Annotated[float | None, Form()] = None,
    y: Annotated[float | None, Form()] = None,
    width: Annotated[float | None, Form()] = None,
    level: Annotated[str, Form()] = pades.B_LT,
    kind: Annotated[str | None, Form()] = None,
) -> Response:
    """Seal the uploaded PDF or OFD (multipart `file` + placement); the seal's policy must allow this client.
    Placement for PDF in points from the bottom-left (380, 80, width 120); for OFD in mm from the top-left
    (130, 220, width 42)."""
    document = await read_pdf(request, file)
    if national.is_ofd(document):
        return await seal_sign_ofd(ctx, seal_id, document, page, x, y, width, level, kind, _client(token))
    placement = pades.Placement(
        page=page, x=380.0 if x is None else x, y=80.0 if y is None else y, width=120.0 if width is None else width
    )
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
    """Verify every signature in the uploaded PDF, or every seal in an OFD (no token: anyone may check a seal).
    200 with the report, whatever the verdict (`valid`); a document that cannot be read is a 422 problem."""
    document = await read_pdf(request, file)
    if national.is_ofd(document):
        return await verify_ofd_upload(ctx, document)

    def work() -> dict[str, Any]:
        with ctx.services.transaction() as session:
            trust = verify.trust_from(session, ctx.authority)
        report = ctx.verifier.verify(document, trust)
        return {"document_sha256": hashlib.sha256(document).hexdigest(), **report.to_dict()}

    try:
        return JSONResponse(await run_in_threadpool(work))
    except VerifierBusy as exc:
        problem = exc.problem(instance=request.url.path)
        headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(problem, status_code=exc.status, media_type="application/problem+json", headers=headers)


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


# --- OFD documents with national-format (GB/T 38540) seals: kept apart so they move with the signing routes. ---


def _ofd_response(result: gb_sealing.GbSealResult) -> Response:
    headers = {
        "X-Signature-Record": result.record_id,
        "X-Document-SHA256": result.document_sha256,
        "X-Signed-SHA256": result.signed_sha256,
        "X-Seal-Level": result.level,
        "Content-Disposition": 'attachment; filename="signed.ofd"',
    }
    if result.tsa_serial is not None:
        headers["X-Timestamp-Serial"] = format(result.tsa_serial, "x")
    return Response(result.data, media_type="application/ofd", headers=headers)


async def seal_sign_ofd(
    ctx: SigningContext,
    seal_id: str,
    document: bytes,
    page: int,
    x: float | None,
    y: float | None,
    width: float | None,
    level: str,
    kind: str | None,
    requester: Requester,
) -> Response:
    """Seal an OFD with a gb38540 seal: SES_Signature, with an SM2 time-stamp unless level B-B is asked."""
    side = 42.0 if width is None else width
    placement = ofd_seal.StampPlacement(
        page=page, x=130.0 if x is None else x, y=220.0 if y is None else y, width=side, height=side
    )
    refusal = AuditEvent(
        action="seal.sign",
        subject=seal_id.strip()[:36],
        actor=requester.name,
        channel=requester.channel,
        client=requester.client_id,
        detail={"kind": kind, "format": "ofd"},
    )

    def work() -> gb_sealing.GbSealResult:
        gb = national.gb_context(ctx)
        try:
            return gb_sealing.seal_ofd(
                gb,
                national.runner(ctx, refusal),
                national.audit_sink(ctx),
                seal_id,
                document,
                placement,
                requester=requester,
                document_kind=kind,
                timestamp=level != pades.B_B,
            )
        except UnprocessableOfd as exc:
            ctx.audit_refusal(refusal, exc)
            raise

    return _ofd_response(await run_in_threadpool(work))


async def verify_ofd_upload(ctx: SigningContext, document: bytes) -> JSONResponse:
    def work() -> dict[str, Any]:
        report = ofd_verify.verify_ofd(document, national.sm_trust(ctx, national.gb_context(ctx)))
        return {"document_sha256": hashlib.sha256(document).hexdigest(), **report.to_dict()}

    return JSONResponse(await run_in_threadpool(work))
