"""Aliyun SMS (Dysmsapi 2017-05-25) `SendSms`, signed with RPC signature v1 (`adapters.rpc_v1`).

Sending is not idempotent (a retry could send two codes): no retries. `check()` calls `QuerySmsSign`, which
reads the approval state of our sign name without sending anything.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import httpx

from adapters.aliyun_rpc import AliyunRpcAdapter
from adapters.base import AuditHook, CheckResult, SendResult
from adapters.config import AliyunSmsConfig
from adapters.errors import AdapterError, ProviderError
from adapters.masking import mask_phone

__all__ = ["AliyunSmsGateway", "aliyun_phone"]

VERSION = "2017-05-25"


def aliyun_phone(phone_e164: str) -> str:
    """Mainland numbers go as 11 digits; others as country code + number without `+`."""
    digits = phone_e164.lstrip("+")
    return digits[2:] if phone_e164.startswith("+86") else digits


class AliyunSmsGateway(AliyunRpcAdapter):
    provider = "aliyun_sms"
    version = VERSION

    def __init__(
        self,
        config: AliyunSmsConfig,
        on_call: AuditHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config, on_call, transport, clock)
        self.config = config

    async def send_code(self, phone_e164: str, code: str) -> SendResult:
        return await self._send("send_code", phone_e164, self.config.template_code, {"code": code})

    async def send_link(self, phone_e164: str, link: str) -> SendResult:
        if not self.config.link_template_code:
            raise ProviderError(self.provider, "no_link_template", "no link template is configured")
        return await self._send("send_link", phone_e164, self.config.link_template_code, {"link": link})

    async def _send(self, operation: str, phone_e164: str, template: str, values: dict[str, str]) -> SendResult:
        params = {
            "PhoneNumbers": aliyun_phone(phone_e164),
            "SignName": self.config.sign_name,
            "TemplateCode": template,
            "TemplateParam": json.dumps(values, separators=(",", ":"), ensure_ascii=False),
            "OutId": uuid.uuid4().hex,
        }

        async def call() -> SendResult:
            body = await self._get("SendSms", params)
            return SendResult(self.provider, str(body.get("BizId", "")), str(body.get("RequestId", "")))

        return await self.guard.run(
            operation,
            call,
            detail={"phone": mask_phone(phone_e164), "out_id": params["OutId"]},
            outcome=lambda r: ("ok", {"biz_id": r.message_id, "request_id": r.request_id}),
        )

    async def check(self) -> CheckResult:
        started = time.perf_counter()
        try:
            body = await self.guard.run("check", lambda: self._get("QuerySmsSign", {"SignName": self.config.sign_name}))
            status = {0: "under review", 1: "approved", 2: "rejected"}.get(body.get("SignStatus", -1), "unknown")
            ok, detail = body.get("SignStatus") == 1, f"credentials accepted; sign name {status}"
        except AdapterError as exc:
            ok, detail = False, exc.message
        return CheckResult(
            "sms", ok, self.base_url, f"aliyun: {detail}", round((time.perf_counter() - started) * 1000, 1)
        )
