"""Carrier three-element check (运营商三要素核验): is this phone registered at its carrier to this name and ID
number? Aliyun Dytnsapi (号码百科) `ThreeElementsVerification`, version 2020-02-17, RPC signature v1.

Request: AuthCode (the approved tag application), InputNumber (11-digit mobile), CertCode, Name and Mask.
We send Mask=SHA256: the three elements go as lower-case hex SHA-256 digests, so the provider's logs never hold
them in clear. Answer: `Code` `OK` with `Data.IsConsistent` 1 (consistent), 0 (not consistent) or 2 (no
record: not billed, nothing proven), `Data.BasicCarrier`. A read, so retried on network errors and 5xx,
each attempt signed afresh. Virtual-operator numbers (170, 171, 162, 165) cannot be checked.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import httpx

from adapters.aliyun_rpc import AliyunRpcAdapter
from adapters.base import AuditHook, CarrierResult, CheckResult
from adapters.config import CarrierConfig
from adapters.errors import AdapterError, InvalidResponse
from adapters.masking import mask_id_number, mask_name, mask_phone
from adapters.sms_aliyun import aliyun_phone

__all__ = ["AliyunCarrierVerifier", "VERSION", "digest"]

VERSION = "2020-02-17"
CONSISTENT = {1: True, 0: False, 2: None}


def digest(value: str) -> str:
    """Mask=SHA256: lower-case hex SHA-256 of the UTF-8 value."""
    return hashlib.sha256(value.encode()).hexdigest()


class AliyunCarrierVerifier(AliyunRpcAdapter):
    provider = "aliyun_carrier"
    version = VERSION

    def __init__(
        self,
        config: CarrierConfig,
        on_call: AuditHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config, on_call, transport, clock)
        self.config = config

    async def verify(self, name: str, id_number: str, phone_e164: str) -> CarrierResult:
        params = {
            "AuthCode": self.config.auth_code,
            "InputNumber": digest(aliyun_phone(phone_e164)),
            "CertCode": digest(id_number.strip().upper()),
            "Name": digest(name.strip()),
            "Mask": "SHA256",
        }

        async def call() -> CarrierResult:
            body = await self._get("ThreeElementsVerification", params)
            data = body.get("Data")
            if not isinstance(data, dict):
                raise InvalidResponse(self.provider, "no Data object")
            try:
                consistent = int(data.get("IsConsistent"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise InvalidResponse(self.provider, "IsConsistent is not a number") from None
            if consistent not in CONSISTENT:
                raise InvalidResponse(self.provider, f"unknown IsConsistent {consistent}")
            return CarrierResult(CONSISTENT[consistent], str(consistent), str(data.get("BasicCarrier") or ""))

        return await self.guard.run(
            "three_elements",
            call,
            detail={"name": mask_name(name), "id_number": mask_id_number(id_number), "phone": mask_phone(phone_e164)},
            retry=self.retry,
            outcome=lambda r: (
                "ok" if r.matched else ("refused" if r.matched is False else "unknown"),
                {"is_consistent": r.code, "carrier": r.carrier},
            ),
        )

    async def check(self) -> CheckResult:
        """`DescribePhoneNumberOperatorAttribute`-free check: a signed call with an unknown number is billed
        nothing (IsConsistent 2 is free) and proves the credentials and the auth code are accepted."""
        started = time.perf_counter()
        try:
            result = await self.verify("核验", "11010519491231002X", "+8613000000000")
            ok, detail = True, f"credentials and auth code accepted (IsConsistent {result.code})"
        except AdapterError as exc:
            ok, detail = False, exc.message
        return CheckResult("carrier", ok, self.base_url, detail, round((time.perf_counter() - started) * 1000, 1))
