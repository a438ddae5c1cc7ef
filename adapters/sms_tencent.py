"""Tencent Cloud SMS (2021-01-11) `SendSms`, signed with TC3-HMAC-SHA256 (`adapters.tc3`).

Not retried (sending twice is not harmless). `check()` calls `PullSmsSendStatus` (a read) with `Limit` 1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from adapters import tc3
from adapters.base import AuditHook, CheckResult, SendResult
from adapters.config import TencentSmsConfig
from adapters.errors import AdapterError, InvalidResponse, ProviderError
from adapters.masking import mask_phone
from adapters.resilience import classify_status
from adapters.transport import HttpAdapter

__all__ = ["TencentSmsGateway"]

VERSION = "2021-01-11"
SERVICE = "sms"
CONTENT_TYPE = "application/json; charset=utf-8"


class TencentSmsGateway(HttpAdapter):
    provider = "tencent_sms"

    def __init__(
        self,
        config: TencentSmsConfig,
        on_call: AuditHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config.base_url, config.http, on_call, transport)
        self.config = config
        self._clock = clock
        self._host = httpx.URL(self.base_url).netloc.decode("ascii")

    def signed_headers(self, action: str, payload: bytes) -> dict[str, str]:
        timestamp = int(self._clock())
        headers = {"Content-Type": CONTENT_TYPE, "Host": self._host}
        canonical = tc3.canonical_request("POST", "/", "", headers, ["content-type", "host"], payload)
        auth = tc3.authorization(
            self.config.secret_id, self.config.secret_key.get_secret_value(), timestamp, SERVICE, canonical
        )
        return {
            **headers,
            "Authorization": auth,
            "X-TC-Action": action,
            "X-TC-Version": VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self.config.region,
        }

    async def _post(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        response = await self.client.post(self.url("/"), content=payload, headers=self.signed_headers(action, payload))
        classify_status(self.provider, response)
        try:
            result = response.json()["Response"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidResponse(self.provider, f"no Response object (HTTP {response.status_code})") from exc
        if not isinstance(result, dict):
            raise InvalidResponse(self.provider, "Response is not an object")
        error = result.get("Error")
        if isinstance(error, dict):
            raise ProviderError(self.provider, str(error.get("Code")), str(error.get("Message")))
        return result

    async def send_code(self, phone_e164: str, code: str) -> SendResult:
        return await self._send("send_code", phone_e164, self.config.template_id, code)

    async def send_link(self, phone_e164: str, link: str) -> SendResult:
        if not self.config.link_template_id:
            raise ProviderError(self.provider, "no_link_template", "no link template is configured")
        return await self._send("send_link", phone_e164, self.config.link_template_id, link)

    async def _send(self, operation: str, phone_e164: str, template: str, value: str) -> SendResult:
        body = {
            "PhoneNumberSet": [phone_e164],
            "SmsSdkAppId": self.config.sdk_app_id,
            "SignName": self.config.sign_name,
            "TemplateId": template,
            "TemplateParamSet": [value],
        }

        async def call() -> SendResult:
            result = await self._post("SendSms", body)
            statuses = result.get("SendStatusSet") or []
            if not statuses or not isinstance(statuses[0], dict):
                raise InvalidResponse(self.provider, "no SendStatusSet")
            status = statuses[0]
            if status.get("Code") != "Ok":
                raise ProviderError(self.provider, str(status.get("Code")), str(status.get("Message")))
            return SendResult(self.provider, str(status.get("SerialNo", "")), str(result.get("RequestId", "")))

        return await self.guard.run(
            operation,
            call,
            detail={"phone": mask_phone(phone_e164)},
            outcome=lambda r: ("ok", {"serial_no": r.message_id, "request_id": r.request_id}),
        )

    async def check(self) -> CheckResult:
        started = time.perf_counter()
        try:
            await self.guard.run(
                "check", lambda: self._post("PullSmsSendStatus", {"Limit": 1, "SmsSdkAppId": self.config.sdk_app_id})
            )
            ok, detail = True, "credentials accepted"
        except AdapterError as exc:
            ok, detail = False, exc.message
        return CheckResult(
            "sms", ok, self.base_url, f"tencent: {detail}", round((time.perf_counter() - started) * 1000, 1)
        )
