"""Injectable trouble for an emulator: latency, failures, a fixed status — to exercise time-outs and breakers."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Faults", "FaultMiddleware"]


@dataclass
class Faults:
    delay_s: float = 0.0  # before the request is handled
    slow_answer_s: float = 0.0  # after it was handled, before the answer leaves (the work is done)
    fail_next: int = 0  # the next N requests get `fail_status`
    fail_status: int = 503
    always_status: int | None = None
    only_path: str | None = None  # apply only to requests whose path ends with this
    requests: int = 0  # requests seen (counted before any fault)

    def reset(self) -> None:
        self.delay_s, self.slow_answer_s, self.fail_next, self.fail_status = 0.0, 0.0, 0, 503
        self.always_status = None
        self.only_path, self.requests = None, 0


class FaultMiddleware:
    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        f = self.faults
        f.requests += 1
        if f.only_path is not None and not str(scope.get("path", "")).endswith(f.only_path):
            await self.app(scope, receive, send)
            return
        if f.delay_s > 0:
            await anyio.sleep(f.delay_s)
        status = None
        if f.fail_next > 0:
            f.fail_next -= 1
            status = f.fail_status
        elif f.always_status is not None:
            status = f.always_status
        if status is None and f.slow_answer_s > 0:
            delay = f.slow_answer_s

            async def slow_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    await anyio.sleep(delay)
                await send(message)

            await self.app(scope, receive, slow_send)
            return
        if status is None:
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"injected fault"})
