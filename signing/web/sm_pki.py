"""Public endpoints of the SM2 hierarchy, where its certificates point (AIA, CRL distribution points):
CA certificates, CRLs and the OCSP responder (RFC 6960 Appendix A.1, POST). No authentication, as for the
ECDSA hierarchy in `signing.web.pki`; the protocol work is in `signing.sm_status`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from signing import sm_pki, sm_status
from signing.context import SigningContext
from signing.errors import InvalidInput
from signing.national import gb_context
from signing.web.host import SigningDep, read_body
from signing.web.pki import CRL_CACHE

router = APIRouter(tags=["pki"])


def _cert(ctx: SigningContext, role: str) -> Response:
    der = gb_context(ctx).authority.by_role(role).der
    return Response(der, media_type="application/pkix-cert", headers={"Cache-Control": CRL_CACHE})


@router.get("/pki/sm2/root-ca.cer")
def sm2_root_certificate(ctx: SigningDep) -> Response:
    return _cert(ctx, sm_pki.ROOT)


@router.get("/pki/sm2/issuing-ca.cer")
def sm2_issuing_certificate(ctx: SigningDep) -> Response:
    return _cert(ctx, sm_pki.ISSUING)


def _crl(ctx: SigningContext, role: str) -> Response:
    authority = gb_context(ctx).authority
    with ctx.services.transaction() as session:
        der = sm_status.current_crl(session, authority, role)
    return Response(der, media_type="application/pkix-crl", headers={"Cache-Control": CRL_CACHE})


@router.get("/pki/sm2/crl")
def sm2_issuing_crl(ctx: SigningDep) -> Response:
    """The SM2 issuing CA's CRL (DER, SM3withSM2), reissued on every revocation."""
    return _crl(ctx, sm_pki.ISSUING)


@router.get("/pki/sm2/root.crl")
def sm2_root_crl(ctx: SigningDep) -> Response:
    return _crl(ctx, sm_pki.ROOT)


def _ocsp(ctx: SigningContext, body: bytes) -> Response:
    authority = gb_context(ctx).authority
    with ctx.services.transaction() as session:
        der = sm_status.respond(session, authority, body)
    return Response(der, media_type="application/ocsp-response", headers={"Cache-Control": "no-store"})


@router.post("/pki/sm2/ocsp")
async def sm2_ocsp(request: Request, ctx: SigningDep) -> Response:
    try:
        body = await read_body(request, sm_status.MAX_REQUEST_BYTES)
    except InvalidInput:
        return Response(sm_status.unsuccessful("malformed_request"), media_type="application/ocsp-response")
    return await run_in_threadpool(_ocsp, ctx, body)
