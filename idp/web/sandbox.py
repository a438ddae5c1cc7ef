"""Sandbox-only: the emulated SMS providers' outbox as JSON and as a page, so a person or a test can read
the code that was 'sent'."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from adapters.sandbox import Sandbox
from idp.errors import InvalidInput, NotFound
from idp.identity import InvalidIdentifier, normalize_mobile
from idp.masking import mask
from idp.web.pages import render

router = APIRouter(prefix="/sandbox", tags=["sandbox"])


def _outbox(request: Request, phone: str) -> list[dict[str, Any]]:
    emulators: Sandbox | None = request.app.state.sandbox
    if emulators is None:
        raise NotFound("the SMS outbox exists only in sandbox mode")
    try:
        e164 = normalize_mobile(phone)
    except InvalidIdentifier:
        raise InvalidInput("invalid phone number") from None
    newest_first = sorted(emulators.outbox.messages(e164), key=lambda m: m["at"], reverse=True)
    return [
        {"phone": mask(e164, "phone"), "code": m["code"], "text": m["text"], "provider": m["provider"], "at": m["at"]}
        for m in newest_first[:20]
    ]


@router.get("/sms/outbox")
async def outbox_json(request: Request, phone: str = "") -> JSONResponse:
    return JSONResponse({"messages": _outbox(request, phone)})


@router.get("/sms")
async def outbox_page(request: Request, phone: str = "") -> Response:
    messages = _outbox(request, phone) if phone else []
    return render(request, "sandbox_sms.html", {"messages": messages, "asked": bool(phone)})
