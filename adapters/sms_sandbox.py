"""The sandbox SMS gateway: codes go to the outbox emulator (`adapters.sandbox.outbox`), not to a phone.

Wire: `POST <base>/messages` `{"phone": "+86...", "code": "123456"}` (or `{"phone": ..., "link": "https://..."}`)
with `Authorization: Bearer <token>` → 201 `{"id": "..."}`; `GET <base>/health` → 200.
"""

from __future__ import annotations

import time

import httpx

from adapters.base import AuditHook, CheckResult, SendResult
from adapters.config import OutboxSmsConfig
from adapters.errors import InvalidResponse, ProviderError
from adapters.masking import mask_phone
from adapters.resilience import classify_status
from adapters.transport import HttpAdapter

__all__ = ["OutboxSmsGateway"]


class OutboxSmsGateway(HttpAdapter):
    provider = "sandbox_sms"

    def __init__(
        self,
        config: OutboxSmsConfig,
        on_call: AuditHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(config.base_url, config.http, on_call, transport)
        self._token = config.token

    async def send_code(self, phone_e164: str, code: str) -> SendResult:
        return await self._send("send_code", phone_e164, {"code": code})

    async def send_link(self, phone_e164: str, link: str) -> SendResult:
        return await self._send("send_link", phone_e164, {"link": link})

    async def _send(self, operation: str, phone_e164: str, content: dict[str, str]) -> SendResult:
        async def call() -> SendResult:
            response = await self.client.post(
                self.url("/messages"),
                json={"phone": phone_e164, **content},
                headers={"Authorization": f"Bearer {self._token.get_secret_value()}"},
            )
            classify_status(self.provider, response)
            if response.status_code != 201:
                raise ProviderError(self.provider, str(response.status_code), response.text[:200])
            try:
                return SendResult(self.provider, str(response.json()["id"]))
            except (ValueError, KeyError) as exc:
                raise InvalidResponse(self.provider, "no message id") from exc

        return await self.guard.run(operation, call, detail={"phone": mask_phone(phone_e164)})

    async def check(self) -> CheckResult:
        started = time.perf_counter()
        try:
            response = await self.client.get(self.url("/health"))
            ok, detail = response.status_code == 200, f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            ok, detail = False, type(exc).__name__
        return CheckResult("sms", ok, self.base_url, f"sandbox outbox: {detail}", _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
