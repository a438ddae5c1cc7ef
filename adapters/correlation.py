"""The request id of the work in progress, sent to providers so their logs and ours can be matched.

Set by the web layer for each request; an `X-Request-Id` header is safe with every provider protocol we
speak (Aliyun and Alipay sign parameters, TC3 and UnionPay sign named headers or the body, none of them this).
"""

from __future__ import annotations

from contextvars import ContextVar

import httpx

REQUEST_ID: ContextVar[str | None] = ContextVar("yiwang_request_id", default=None)
HEADER = "X-Request-Id"


async def tag_request(request: httpx.Request) -> None:
    request_id = REQUEST_ID.get()
    if request_id:
        request.headers[HEADER] = request_id
