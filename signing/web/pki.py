"""Public PKI endpoints: CA certificates, CRLs, the OCSP responder (RFC 6960) and the TSA (RFC 3161).

No authentication: relying parties and validators anywhere must reach them. The protocol work is in
`signing.crl`, `signing.ocsp` and `signing.tsa`; this module only moves bytes and sets media types.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.ocsp import OCSPResponseStatus
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from signing import crl, ocsp
from signing.context import SigningContext
from signing.errors import InvalidInput
from signing.pki import ISSUING, ROOT
from signing.tsa import MAX_REQUEST_BYTES as TSA_MAX
from signing.web.host import SigningDep, read_body

router = APIRouter(tags=["pki"])

# RFC 5280 §4.2.1.13 / RFC 2585 §4.2: caches may keep the CRL a while; OCSP and TSA replies are per request.
CRL_CACHE = "public, max-age=300"


def _cert(ctx: SigningContext, role: str) -> Response:
    identity = ctx.authority.root if role == ROOT else ctx.authority.issuing
    return Response(identity.cert.public_bytes(Encoding.DER), media_type="application/pkix-cert")


@router.get("/pki/root-ca.cer")
def root_certificate(ctx: SigningDep) -> Response:
    return _cert(ctx, ROOT)


@router.get("/pki/issuing-ca.cer")
def issuing_certificate(ctx: SigningDep) -> Response:
    return _cert(ctx, ISSUING)


def _crl(ctx: SigningContext, role: str) -> Response:
    with ctx.services.transaction() as session:
        der = crl.current(session, ctx.authority, role)
    return Response(der, media_type="application/pkix-crl", headers={"Cache-Control": CRL_CACHE})


@router.get("/pki/crl")
def issuing_crl(ctx: SigningDep) -> Response:
    """The issuing CA's CRL (DER), reissued on every revocation."""
    return _crl(ctx, ISSUING)


@router.get("/pki/root.crl")
def root_crl(ctx: SigningDep) -> Response:
    return _crl(ctx, ROOT)


def _ocsp(ctx: SigningContext, body: bytes) -> Response:
    with ctx.services.transaction() as session:
        der = ocsp.respond(session, ctx.authority, body)
    return Response(der, media_type="application/ocsp-response", headers={"Cache-Control": "no-store"})


@router.post("/pki/ocsp")
async def ocsp_post(request: Request, ctx: SigningDep) -> Response:
    """RFC 6960 Appendix A.1: POST with an `application/ocsp-request` body."""
    try:
        body = await read_body(request, ocsp.MAX_REQUEST_BYTES)
    except InvalidInput:
        refused = ocsp.unsuccessful(OCSPResponseStatus.MALFORMED_REQUEST)
        return Response(refused, media_type="application/ocsp-response")
    return await run_in_threadpool(_ocsp, ctx, body)


@router.get("/pki/ocsp/{encoded:path}")
def ocsp_get(encoded: str, ctx: SigningDep) -> Response:
    """RFC 6960 Appendix A.1: GET with the base64 (then URL-encoded) DER request in the path."""
    try:
        body = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=False)
    except (binascii.Error, ValueError):
        body = b""
    return _ocsp(ctx, body)


@router.post("/tsa")
async def timestamp(request: Request, ctx: SigningDep) -> Response:
    """RFC 3161 §3.4: `application/timestamp-query` in, `application/timestamp-reply` out (rejections too)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/timestamp-query":
        raise InvalidInput("send an application/timestamp-query body (RFC 3161 §3.4)")
    try:
        body = await read_body(request, TSA_MAX)
    except InvalidInput:
        body = b"\x00" * (TSA_MAX + 1)  # answered as a protocol-level rejection, like any bad request
    reply = await run_in_threadpool(ctx.tsa.respond, body)
    return Response(reply, media_type="application/timestamp-reply", headers={"Cache-Control": "no-store"})
