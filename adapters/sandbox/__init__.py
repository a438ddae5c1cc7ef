"""The emulated providers, mounted in-process in sandbox mode, and the adapter configuration that targets them.

    sandbox = Sandbox(state_dir=data_dir / "sandbox", photos_dir=...)
    sandbox.mount(app, "/sandbox")                        # browser-facing pages: /sandbox/alipay/..., /sandbox/outbox/
    config = sandbox.adapters_config("http://127.0.0.1:8000/sandbox")
    adapters = build_adapters(config, on_call=audit_hook)   # real adapters, real HTTP, emulated providers

Or, without going through the network, `sandbox.adapters_config(Sandbox.INTERNAL, browser_base_url=...)`
with `transport=sandbox.transport()`: the same adapters and wire protocols over an in-process ASGI transport.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from adapters.config import (
    AdaptersConfig,
    AlipayConfig,
    AliyunSmsConfig,
    CarrierConfig,
    FaceConfig,
    HttpConfig,
    OutboxSmsConfig,
    RegistryConfig,
    SmsConfig,
    TencentSmsConfig,
    UnionPayConfig,
)
from adapters.sandbox import aliyun_sms, carrier, dataset, tencent_sms
from adapters.sandbox.alipay import alipay_app
from adapters.sandbox.faults import FaultMiddleware, Faults
from adapters.sandbox.keys import SandboxKeys, load_or_create
from adapters.sandbox.outbox import Outbox, outbox_app
from adapters.sandbox.registry import registry_app
from adapters.sandbox.state import MemoryStore, SqliteStore, Store
from adapters.sandbox.unionpay import unionpay_app

__all__ = ["Sandbox", "PROVIDERS", "load_photos"]

PROVIDERS = ("outbox", "aliyun-sms", "tencent-sms", "unionpay", "alipay", "registry", "carrier")


def load_photos(directory: Path | None) -> dict[str, bytes]:
    """Registered photos from `directory`: `<person key or ID number>.jpg|.jpeg|.png` (see dataset.PEOPLE)."""
    photos: dict[str, bytes] = {}
    if directory is None or not directory.is_dir():
        return photos
    for person in dataset.PEOPLE:
        for stem in (person.key, person.id_number):
            for ext in (".jpg", ".jpeg", ".png"):
                path = directory / f"{stem}{ext}"
                if path.is_file() and person.id_number not in photos:
                    photos[person.id_number] = path.read_bytes()
    return photos


class Sandbox:
    """All emulators with their generated keys, shared state, seeded photos and injectable faults."""

    INTERNAL = "http://sandbox.internal"

    def __init__(
        self,
        state_dir: Path | None = None,
        photos: Mapping[str, bytes] | None = None,
        photos_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys: SandboxKeys = load_or_create(state_dir)
        self.store: Store = SqliteStore(state_dir / "sandbox-state.db") if state_dir else MemoryStore()
        self.outbox = Outbox(self.store)
        self.photos: dict[str, bytes] = {**load_photos(photos_dir), **(photos or {})}
        self.faults = {name: Faults() for name in PROVIDERS}
        k = self.keys
        apps: dict[str, ASGIApp] = {
            "outbox": outbox_app(self.outbox, k.outbox_token),
            "aliyun-sms": aliyun_sms.aliyun_sms_app(
                self.outbox, self.store, k.aliyun_access_key_id, k.aliyun_access_key_secret, clock
            ),
            "tencent-sms": tencent_sms.tencent_sms_app(self.outbox, k.tencent_secret_id, k.tencent_secret_key, clock),
            "unionpay": unionpay_app(self.store, k, clock),
            "alipay": alipay_app(self.store, k, clock),
            "registry": registry_app(self.store, k.registry_key_id, k.registry_secret, self.photos, clock),
            # Dytnsapi is another Aliyun product on the same account: the same AccessKey pair signs for it.
            "carrier": carrier.carrier_app(self.store, k.aliyun_access_key_id, k.aliyun_access_key_secret, clock),
        }
        self.apps: dict[str, ASGIApp] = {n: FaultMiddleware(a, self.faults[n]) for n, a in apps.items()}

    def reset_faults(self) -> None:
        for f in self.faults.values():
            f.reset()

    def mount(self, app: Starlette, prefix: str = "/sandbox") -> None:
        """Mount every emulator at `<prefix>/<provider>` on a Starlette/FastAPI app."""
        for name, sub in self.apps.items():
            app.mount(f"{prefix.rstrip('/')}/{name}", sub, name=f"sandbox-{name}")

    def asgi_app(self) -> Starlette:
        """One ASGI app serving every emulator at `/<provider>`."""
        return Starlette(routes=[Mount(f"/{name}", app=sub) for name, sub in self.apps.items()])

    def transport(self) -> httpx.AsyncBaseTransport:
        """An in-process transport to the emulators, for adapters configured with base URL `Sandbox.INTERNAL`."""
        return httpx.ASGITransport(app=self.asgi_app())

    def sms_config(self, base_url: str, kind: Literal["sandbox", "aliyun", "tencent"], http: HttpConfig) -> SmsConfig:
        k, base = self.keys, base_url.rstrip("/")
        if kind == "aliyun":
            return AliyunSmsConfig(
                base_url=f"{base}/aliyun-sms",
                access_key_id=k.aliyun_access_key_id,
                access_key_secret=k.aliyun_access_key_secret,
                sign_name=aliyun_sms.SIGN_NAME,
                template_code=aliyun_sms.TEMPLATE_CODE,
                link_template_code=aliyun_sms.LINK_TEMPLATE_CODE,
                http=http,
            )
        if kind == "tencent":
            return TencentSmsConfig(
                base_url=f"{base}/tencent-sms",
                secret_id=k.tencent_secret_id,
                secret_key=k.tencent_secret_key,
                sdk_app_id=tencent_sms.SDK_APP_ID,
                sign_name=tencent_sms.SIGN_NAME,
                template_id=tencent_sms.TEMPLATE_ID,
                link_template_id=tencent_sms.LINK_TEMPLATE_ID,
                http=http,
            )
        return OutboxSmsConfig(base_url=f"{base}/outbox", token=k.outbox_token, http=http)

    def adapters_config(
        self,
        base_url: str,
        sms: Literal["sandbox", "aliyun", "tencent"] = "sandbox",
        browser_base_url: str | None = None,
        http: HttpConfig | None = None,
        face: FaceConfig | None = None,
        unionpay_query_interval_s: float = 0.5,
    ) -> AdaptersConfig:
        """Configuration for every adapter against the emulators at `base_url` (`<base_url>/<provider>`).

        `browser_base_url` is where a browser reaches the same emulators (Alipay pages), if not `base_url`.
        """
        k = self.keys
        base = base_url.rstrip("/")
        browser = (browser_base_url or base_url).rstrip("/")
        http = http or HttpConfig()
        return AdaptersConfig(
            sms=self.sms_config(base, sms, http),
            unionpay=UnionPayConfig(
                base_url=f"{base}/unionpay",
                mer_id=k.unionpay_mer_id,
                sign_key_pem=k.merchant_key,
                sign_cert_pem=k.merchant_cert,
                encrypt_cert_pem=k.unionpay_encrypt_cert,
                root_cert_pem=k.unionpay_root_cert,
                middle_cert_pem=k.unionpay_middle_cert,
                query_interval_s=unionpay_query_interval_s,
                http=http.model_copy(update={"deadline_s": max(http.deadline_s, 20.0)}),
            ),
            alipay=AlipayConfig(
                gateway_url=f"{base}/alipay/gateway.do",
                authorize_url=f"{browser}/alipay/oauth2/publicAppAuthorize.htm",
                browser_gateway_url=f"{browser}/alipay/gateway.do",
                app_id=k.alipay_app_id,
                app_private_key_pem=k.alipay_app_key,
                alipay_public_key_pem=k.alipay_platform_public_key,
                http=http,
            ),
            registry=RegistryConfig(
                base_url=f"{base}/registry",
                key_id=k.registry_key_id,
                secret=k.registry_secret,
                http=http,
            ),
            carrier=CarrierConfig(
                base_url=f"{base}/carrier",
                access_key_id=k.aliyun_access_key_id,
                access_key_secret=k.aliyun_access_key_secret,
                auth_code=carrier.AUTH_CODE,
                http=http,
            ),
            face=face or FaceConfig(),
        )
