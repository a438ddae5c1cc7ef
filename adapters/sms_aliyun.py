"""Aliyun SMS (Dysmsapi 2017-05-25) `SendSms`, signed with RPC signature v1 (`adapters.rpc_v1`).

Sending is not idempotent (a retry could send two codes): no retries. `check()` calls `QuerySmsSign`, which
reads the approval state of our sign name without sending anything.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters import rpc_v1
from adapters.base import AuditHook, CheckResult, SendResult
from adapters.config import AliyunSmsConfig
from adapters.errors import AdapterError, InvalidResponse, ProviderError
from adapters.masking import mask_phone
from adapters.resilience import classify_status
from adapters.transport import HttpAdapter

__all__ = ["AliyunSmsGateway", "aliyun_phone"]

VERSION = "2017-05-25"


def aliyun_phone(phone_e164: str) -> str:
    """Mainland numbers go as 11 digits; others as country code + number without `+`."""
    digits = phone_e164.lstrip("+")
    return digits[2:] if phone_e164.startswith("+86") else digits


class AliyunSmsGateway(HttpAdapter):
    provider = "aliyun_sms"

    def __init__(
        self,
        config: AliyunSmsConfig,
        on_call: AuditHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config.base_url, config.http, on_call, transport)
        self.config = config
        self._clock = clock

    def signed_params(self, action: str, params: dict[str, str]) -> dict[str, str]:
        timestamp = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        common = {
            "AccessKeyId": self.config.access_key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self.config.region_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": timestamp,
            "Version": VERSION,
        }
        return rpc_v1.sign_params({**common, **params}, self.config.access_key_secret.get_secret_value())

    async def _get(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        response = await self.client.get(self.url("/"), params=self.signed_params(action, params))
        classify_status(self.provider, response)
        try:
            body = response.json()
        except ValueError as exc:
            raise InvalidResponse(self.provider, f"not JSON (HTTP {response.status_code})") from exc
        if not isinstance(body, dict):
            raise InvalidResponse(self.provider, "not a JSON object")
        if body.get("Code") != "OK":
            raise ProviderError(self.provider, str(body.get("Code", response.status_code)), str(body.get("Message")))
        return body

    async def send_code(self, phone_e164: str, code: str) -> SendResult:
        params = {
            "PhoneNumbers": aliyun_phone(phone_e164),
            "SignName": self.config.sign_name,
            "TemplateCode": self.config.template_code,
            "TemplateParam": json.dumps({"code": code}, separators=(",", ":")),
            "OutId": uuid.uuid4().hex,
        }

        async def call() -> SendResult:
            body = await self._get("SendSms", params)
            return SendResult(self.provider, str(body.get("BizId", "")), str(body.get("RequestId", "")))

        return await self.guard.run(
            "send_code",
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
