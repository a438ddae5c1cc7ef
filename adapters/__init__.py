"""External verification providers behind small protocols, each with an emulator in `adapters.sandbox`.

Imports nothing of Yiwang's: configuration comes in as `adapters.config` models, audit goes out through an
`on_call(provider, operation, outcome, detail)` hook with personal data already masked.

Ports (`adapters.base`): SmsGateway, BankCardVerifier, AlipayClient, PopulationRegistry, FaceMatcher.
Implementations: OutboxSmsGateway, AliyunSmsGateway, TencentSmsGateway, UnionPayVerifier, AlipayOpenClient,
RegistryClient, DlibFaceMatcher; `build_adapters(config)` makes them all. Liveness: `adapters.liveness`.
The face matcher is imported lazily (it loads dlib models): `from adapters.face import DlibFaceMatcher`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# The names below, loaded on first use (PEP 562): importing `adapters.config` for settings must not pull in
# httpx and every provider's client (a CLI command that only reads settings starts in a fraction of a second).
_MODULES = {
    "adapters.base": ("AlipayClient", "AlipayToken", "AlipayUserInfo", "AuditHook", "BankCardResult",
                      "BankCardVerifier", "CheckResult", "FaceEncoding", "FaceLandmarks", "FaceMatch", "FaceMatcher",
                      "PopulationRegistry", "RegistryResult", "SendResult", "SmsGateway"),
    "adapters.config": ("AdaptersConfig", "FaceConfig", "HttpConfig"),
    "adapters.errors": ("AdapterError", "InvalidResponse", "ProviderError", "ProviderUnavailable", "UnusableImage"),
    "adapters.resilience": ("CircuitBreaker",),
}  # fmt: skip
_WHERE = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'adapters' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
