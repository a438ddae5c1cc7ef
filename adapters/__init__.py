"""External verification providers behind small protocols, each with an emulator in `adapters.sandbox`.

Imports nothing of Yiwang's: configuration comes in as `adapters.config` models, audit goes out through an
`on_call(provider, operation, outcome, detail)` hook with personal data already masked.

Ports (`adapters.base`): SmsGateway, BankCardVerifier, AlipayClient, PopulationRegistry, FaceMatcher.
Implementations: OutboxSmsGateway, AliyunSmsGateway, TencentSmsGateway, UnionPayVerifier, AlipayOpenClient,
RegistryClient, DlibFaceMatcher; `build_adapters(config)` makes them all. Liveness: `adapters.liveness`.
The face matcher is imported lazily (it loads dlib models): `from adapters.face import DlibFaceMatcher`.
"""

from __future__ import annotations

from adapters.base import (
    AlipayClient,
    AlipayToken,
    AlipayUserInfo,
    AuditHook,
    BankCardResult,
    BankCardVerifier,
    CheckResult,
    FaceEncoding,
    FaceLandmarks,
    FaceMatch,
    FaceMatcher,
    PopulationRegistry,
    RegistryResult,
    SendResult,
    SmsGateway,
)
from adapters.config import AdaptersConfig, FaceConfig, HttpConfig
from adapters.errors import AdapterError, InvalidResponse, ProviderError, ProviderUnavailable, UnusableImage
from adapters.resilience import CircuitBreaker

__all__ = [
    "AdapterError",
    "AdaptersConfig",
    "AlipayClient",
    "AlipayToken",
    "AlipayUserInfo",
    "AuditHook",
    "BankCardResult",
    "BankCardVerifier",
    "CheckResult",
    "CircuitBreaker",
    "FaceConfig",
    "FaceEncoding",
    "FaceLandmarks",
    "FaceMatch",
    "FaceMatcher",
    "HttpConfig",
    "InvalidResponse",
    "PopulationRegistry",
    "ProviderError",
    "ProviderUnavailable",
    "RegistryResult",
    "SendResult",
    "SmsGateway",
    "UnusableImage",
]
