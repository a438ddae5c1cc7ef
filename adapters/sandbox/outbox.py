"""The sandbox SMS outbox: where every emulated SMS lands (sandbox gateway, Aliyun and Tencent emulators).

`POST /messages` (bearer token) adds one; `GET /messages[?phone=+86...]` lists them as JSON, phone masked;
`GET /` shows them on a page so a person trying the sandbox can read their code; `GET /health`.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.masking import mask_phone
from adapters.sandbox._page import escape, page
from adapters.sandbox.state import Store

__all__ = ["Outbox", "is_link", "link_text", "outbox_app"]

CHANNEL = "sms"


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def deliver(self, provider: str, phone: str, text: str, code: str | None) -> str:
        message_id = secrets.token_hex(8)
        item = {"id": message_id, "provider": provider, "phone": phone, "text": text, "code": code, "at": time.time()}
        self.store.append(CHANNEL, item)
        # Also kept per phone, so reading one phone's messages doesn't decode the whole outbox.
        self.store.append(f"{CHANNEL}:{phone}", item, keep=20)
        return message_id

    def messages(self, phone: str | None = None) -> list[dict[str, Any]]:
        if phone is None:
            return self.store.items(CHANNEL)
        return self.store.items(f"{CHANNEL}:{phone}")

    def latest_code(self, phone: str) -> str | None:
        """For tests and demos: the newest code sent to `phone`."""
        found = self.messages(phone)
        return str(found[0]["code"]) if found and found[0]["code"] is not None else None


def is_link(value: str) -> bool:
    """What a link template accepts: an http(s) URL, short, without spaces."""
    return value.startswith(("https://", "http://")) and len(value) <= 300 and not any(c.isspace() for c in value)


def link_text(sign: str, link: str) -> str:
    """The approved wording of the link template (the same in every emulator)."""
    return f"【{sign}】有工作人员请求核验您的身份，请打开链接查看并确认：{link} 如非本人办理请忽略。"


def _public(m: dict[str, Any]) -> dict[str, Any]:
    return {**m, "phone": mask_phone(str(m["phone"]))}


def outbox_app(outbox: Outbox, token: str) -> Starlette:
    async def post_message(request: Request) -> Response:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            body = await request.json()
            phone = str(body["phone"])
            code, link = (str(body["code"]), None) if "code" in body else (None, str(body["link"]))
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "bad_request"}, status_code=400)
        if not phone.startswith("+") or not phone[1:].isdigit():
            return JSONResponse({"error": "bad_request"}, status_code=400)
        if code is not None and not code.isdigit():
            return JSONResponse({"error": "bad_request"}, status_code=400)
        if link is not None and not is_link(link):
            return JSONResponse({"error": "bad_request"}, status_code=400)
        text = f"【一网】验证码 {code}，5分钟内有效。" if code is not None else link_text("一网", str(link))
        message_id = outbox.deliver("sandbox", phone, text, code)
        return JSONResponse({"id": message_id}, status_code=201)

    async def list_messages(request: Request) -> Response:
        phone = request.query_params.get("phone")
        return JSONResponse([_public(m) for m in outbox.messages(phone)])

    async def index(request: Request) -> Response:
        rows = "".join(
            f"<tr><td>{escape(str(m['provider']))}</td><td>{escape(mask_phone(str(m['phone'])))}</td>"
            f"<td>{escape(str(m['text']))}</td></tr>"
            for m in outbox.messages()[:30]
        )
        return page("SMS outbox", f"<table><tr><th>via</th><th>to</th><th>text</th></tr>{rows}</table>")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/health", health),
            Route("/messages", post_message, methods=["POST"]),
            Route("/messages", list_messages, methods=["GET"]),
        ]
    )
