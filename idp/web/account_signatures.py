"""My signatures and signature requests, and downloading a signed PDF again while its copy is kept.

The download is a GET that changes nothing, answered `no-store`, and only to the signer: another person's
record is refused (403) exactly as the signing module decides (signing/copies.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp.oauth.provider import Provider
from idp.web.account_common import SignedIn, beijing, no_store, page
from idp.web.account_text import account_messages
from idp.web.deps import get_provider
from idp.web.i18n import pick_language
from idp.web.pages import render
from signing import copies
from signing.errors import Forbidden, NotFound

router = APIRouter(prefix="/account", tags=["account"])
ProviderDep = Annotated[Provider, Depends(get_provider)]


def _app(provider: Provider, client_id: str) -> str:
    client = provider.clients.get(client_id)
    return client.name if client is not None else client_id


@router.get("/signatures")
async def signatures_page(request: Request, provider: ProviderDep, login: SignedIn) -> Response:
    def work() -> Response:
        with provider.runtime.transaction() as session:
            mine = copies.signatures_of(session, login.person_id)
            asked = copies.requests_of(session, login.person_id)
        t = account_messages(pick_language(request))
        signatures = [
            {"id": s.record_id, "app": _app(provider, s.client_id), "sha256": s.document_sha256,
             "signed_at": beijing(s.signed_at), "kept_until": beijing(s.kept_until) if s.kept_until else None}
            for s in mine
        ]  # fmt: skip
        requests = [
            {"app": _app(provider, r.client_id), "sha256": r.document_sha256, "created": beijing(r.created_at),
             "status": t.get(f"status_{r.status}", r.status)}
            for r in asked
        ]  # fmt: skip
        return page(request, provider, "account_signatures.html", {"signatures": signatures, "requests": requests})

    return await run_in_threadpool(work)


@router.get("/signatures/{record_id}.pdf")
async def signed_pdf(record_id: str, request: Request, provider: ProviderDep, login: SignedIn) -> Response:
    def work() -> Response:
        try:
            with provider.runtime.transaction() as session:
                pdf = copies.download(session, provider.runtime.protector, record_id, login.person_id)
        except (Forbidden, NotFound) as exc:
            status = 403 if isinstance(exc, Forbidden) else 404
            return no_store(render(request, "error.html", {"detail": str(exc)}, status_code=status))
        headers = {"Content-Disposition": f'attachment; filename="signed-{record_id[:8]}.pdf"'}
        return no_store(Response(pdf, media_type="application/pdf", headers=headers))

    return await run_in_threadpool(work)
