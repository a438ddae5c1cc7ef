"""Build every adapter from an `AdaptersConfig`, with one audit hook; check them all."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from adapters.alipay import AlipayOpenClient
from adapters.base import (
    AlipayClient,
    AuditHook,
    BankCardVerifier,
    CarrierVerifier,
    CheckResult,
    FaceMatcher,
    PopulationRegistry,
    SmsGateway,
)
from adapters.carrier import AliyunCarrierVerifier
from adapters.config import AdaptersConfig, AliyunSmsConfig, OutboxSmsConfig, SmsConfig, TencentSmsConfig
from adapters.errors import UnusableImage
from adapters.face import DlibFaceMatcher
from adapters.registry import RegistryClient
from adapters.sms_aliyun import AliyunSmsGateway
from adapters.sms_sandbox import OutboxSmsGateway
from adapters.sms_tencent import TencentSmsGateway
from adapters.unionpay import UnionPayVerifier

__all__ = ["Adapters", "build_adapters", "build_sms", "check_face"]


def build_sms(
    config: SmsConfig, on_call: AuditHook | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> SmsGateway:
    if isinstance(config, AliyunSmsConfig):
        return AliyunSmsGateway(config, on_call, transport)
    if isinstance(config, TencentSmsConfig):
        return TencentSmsGateway(config, on_call, transport)
    assert isinstance(config, OutboxSmsConfig)
    return OutboxSmsGateway(config, on_call, transport)


def check_face(matcher: FaceMatcher) -> CheckResult:
    """Loads the models and runs the detector once on a blank image (which must have no face)."""
    import io

    from PIL import Image

    started = time.perf_counter()
    blank = io.BytesIO()
    Image.new("RGB", (64, 64), (128, 128, 128)).save(blank, format="PNG")
    try:
        matcher.encode(blank.getvalue())
        ok, detail = False, "found a face in a blank image"
    except UnusableImage as exc:
        ok, detail = exc.reason == "no_face", f"models loaded; threshold {matcher.threshold:g}"
    return CheckResult("face", ok, "local (dlib)", detail, round((time.perf_counter() - started) * 1000, 1))


@dataclass
class Adapters:
    sms: SmsGateway
    bank_card: BankCardVerifier | None
    alipay: AlipayClient | None
    registry: PopulationRegistry | None
    face: FaceMatcher
    carrier: CarrierVerifier | None = None

    async def check_all(self) -> list[CheckResult]:
        results = [await self.sms.check()]
        for name, adapter in (
            ("unionpay", self.bank_card),
            ("alipay", self.alipay),
            ("registry", self.registry),
            ("carrier", self.carrier),
        ):
            if adapter is None:
                results.append(CheckResult(name, True, "-", "not configured"))
            else:
                results.append(await adapter.check())
        results.append(check_face(self.face))
        return results

    async def aclose(self) -> None:
        for adapter in (self.sms, self.bank_card, self.alipay, self.registry, self.carrier):
            if adapter is not None:
                await adapter.aclose()


def build_adapters(
    config: AdaptersConfig, on_call: AuditHook | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> Adapters:
    """Every configured adapter. `transport` (e.g. `Sandbox.transport()`) replaces the network for all of them."""
    return Adapters(
        sms=build_sms(config.sms, on_call, transport),
        bank_card=UnionPayVerifier(config.unionpay, on_call, transport) if config.unionpay else None,
        alipay=AlipayOpenClient(config.alipay, on_call, transport) if config.alipay else None,
        registry=RegistryClient(config.registry, on_call, transport) if config.registry else None,
        face=DlibFaceMatcher(config.face),
        carrier=AliyunCarrierVerifier(config.carrier, on_call, transport) if config.carrier else None,
    )
