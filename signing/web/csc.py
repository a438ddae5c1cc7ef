"""Cloud Signature Consortium API v2 endpoints (`/csc/v2/...`): JSON POSTs, errors as `{error, error_description}`.

`info` is public; everything else needs a client_credentials token with scope `seal`. The protocol is in
`signing.csc`; this module parses JSON, runs the work off the event loop, and renders CSC errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from signing import csc, pades
from signing.context import SigningContext
from signing.errors import SigningError
from signing.web.host import Caller, SigningDep, read_body, require_token
from signing.web.json_body import BadJson, parse_object

router = APIRouter(prefix="/csc/v2", tags=["csc"])
SealToken = Annotated[Caller, Depends(require_token("seal"))]
# signDoc carries whole PDFs in base64 (4/3 of their size) inside JSON.
MAX_BODY = pades.MAX_PDF_BYTES * 4 // 3 + 64 * 1024

Work = Callable[[SigningContext, str, dict[str, Any]], dict[str, Any]]


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def _call(request: Request, ctx: SigningContext, client_id: str, work: Work) -> JSONResponse:
    try:
        raw = await read_body(request, MAX_BODY)
    except SigningError:
        return _error(413, "invalid_request", f"the request body is larger than {MAX_BODY} bytes")
    try:
        body = parse_object(raw or b"{}")
    except BadJson as exc:
        return _error(400, "invalid_request", str(exc))
    try:
        return JSONResponse(await run_in_threadpool(work, ctx, client_id, body))
    except csc.CscError as exc:
        return _error(exc.status, exc.error, exc.description)


@router.post("/info")
def info(ctx: SigningDep) -> dict[str, Any]:
    return csc.info(ctx)


@router.post("/credentials/list")
async def credentials_list(request: Request, ctx: SigningDep, token: SealToken) -> JSONResponse:
    return await _call(request, ctx, token.client_id, csc.credentials_list)


@router.post("/credentials/info")
async def credentials_info(request: Request, ctx: SigningDep, token: SealToken) -> JSONResponse:
    return await _call(request, ctx, token.client_id, csc.credentials_info)


@router.post("/credentials/authorize")
async def credentials_authorize(request: Request, ctx: SigningDep, token: SealToken) -> JSONResponse:
    return await _call(request, ctx, token.client_id, csc.credentials_authorize)


@router.post("/signatures/signHash")
async def sign_hash(request: Request, ctx: SigningDep, token: SealToken) -> JSONResponse:
    return await _call(request, ctx, token.client_id, csc.sign_hash)


@router.post("/signatures/signDoc")
async def sign_doc(request: Request, ctx: SigningDep, token: SealToken) -> JSONResponse:
    return await _call(request, ctx, token.client_id, csc.sign_doc)
