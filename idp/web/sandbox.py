"""Sandbox-only pages: the emulated SMS gateway's outbox, so a person or a test can read the code."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from idp.errors import InvalidInput, NotFound
from idp.identity import InvalidIdentifier, normalize_mobile
from idp.oauth.provider import Provider
from idp.sms import SandboxOutbox
from idp.web.deps import get_provider
from idp.web.pages import render

router = APIRouter(prefix="/sandbox", tags=["sandbox"])
ProviderDep = Annotated[Provider, Depends(get_provider)]
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def _outbox(request: Request, provider: Provider, phone: str) -> list[dict[str, Any]]:
    if not provider.settings.sandbox or not isinstance(provider.sms, SandboxOutbox):
        raise NotFound("the SMS outbox exists only in sandbox mode")
    try:
        e164 = normalize_mobile(phone)
    except InvalidIdentifier:
        raise InvalidInput("invalid phone number") from None
    with provider.runtime.transaction() as session:
        messages = provider.sms.read(session, e164)
    for m in messages:
        found = _CODE.search(m["text"])
        m["code"] = found.group(1) if found else None
    return messages


@router.get("/sms/outbox")
async def outbox_json(request: Request, provider: ProviderDep, phone: str = "") -> JSONResponse:
    messages = await run_in_threadpool(_outbox, request, provider, phone)
    return JSONResponse({"messages": messages})


@router.get("/sms")
async def outbox_page(request: Request, provider: ProviderDep, phone: str = "") -> Response:
    messages = await run_in_threadpool(_outbox, request, provider, phone) if phone else []
    return render(request, "sandbox_sms.html", {"messages": messages, "asked": bool(phone)})
