"""Settings for the external providers (`YIWANG_*`), and the glue from them to `adapters`.

Kept apart from `idp.settings` so that provider credentials stay in one place. In sandbox mode every adapter
targets its in-process emulator (`adapters.sandbox.Sandbox`, keys under `<data dir>/sandbox/`), reached through
an in-process ASGI transport; `YIWANG_SMS_PROVIDER=aliyun|tencent` then exercises the real Aliyun/Tencent
adapter against its emulator. With sandbox mode off, every adapter needs its real base URL and credentials:
`problems()` lists what is missing, and `build_adapters_from_settings` refuses to build while any remain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.base import AuditHook
from adapters.config import (
    AdaptersConfig,
    AlipayConfig,
    AliyunSmsConfig,
    CarrierConfig,
    FaceConfig,
    HttpConfig,
    RegistryConfig,
    SmsConfig,
    TencentSmsConfig,
    UnionPayConfig,
)
from adapters.factory import Adapters, build_adapters
from adapters.sandbox import Sandbox
from idp.settings import Settings

__all__ = ["ProviderSettings", "ProviderConfigError", "open_sandbox", "adapters_config", "build_adapters_from_settings"]

_EMULATOR_MARKERS = ("/sandbox/", "sandbox.internal")


class ProviderConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class ProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIWANG_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    sms_provider: Literal["sandbox", "aliyun", "tencent"] = "sandbox"
    aliyun_sms_base_url: str = "https://dysmsapi.aliyuncs.com"
    aliyun_access_key_id: str | None = None
    aliyun_access_key_secret: SecretStr | None = None
    aliyun_sms_sign_name: str | None = None
    aliyun_sms_template_code: str | None = None
    tencent_sms_base_url: str = "https://sms.tencentcloudapi.com"
    tencent_secret_id: str | None = None
    tencent_secret_key: SecretStr | None = None
    tencent_sms_app_id: str | None = None
    tencent_sms_sign_name: str | None = None
    tencent_sms_template_id: str | None = None

    unionpay_base_url: str = "https://gateway.95516.com"
    unionpay_mer_id: str | None = None
    unionpay_sign_key_file: Path | None = Field(None, description="Our merchant private key, PEM.")
    unionpay_sign_cert_file: Path | None = Field(None, description="Our merchant certificate, PEM.")
    unionpay_encrypt_cert_file: Path | None = Field(None, description="UnionPay's encryption certificate, PEM.")
    unionpay_root_cert_file: Path | None = None
    unionpay_middle_cert_file: Path | None = None

    alipay_gateway_url: str = "https://openapi.alipay.com/gateway.do"
    alipay_authorize_url: str = "https://openauth.alipay.com/oauth2/publicAppAuthorize.htm"
    alipay_app_id: str | None = None
    alipay_app_private_key_file: Path | None = None
    alipay_public_key_file: Path | None = None

    registry_base_url: str | None = None
    registry_key_id: str | None = None
    registry_secret: SecretStr | None = None

    carrier_base_url: str = "https://dytnsapi.aliyuncs.com"
    carrier_auth_code: str | None = Field(None, description="Dytnsapi three-element tag authorisation code.")

    provider_connect_timeout_s: float = Field(3.0, gt=0)
    provider_read_timeout_s: float = Field(5.0, gt=0)
    provider_deadline_s: float = Field(15.0, gt=0, description="Cap on one whole provider operation.")
    face_threshold: float = Field(FaceConfig().threshold, gt=0, lt=2)
    sandbox_photos_dir: Path | None = Field(
        None, description="Registered photos for the registry emulator: <person key or ID number>.jpg|png."
    )

    @property
    def http(self) -> HttpConfig:
        return HttpConfig(
            connect_timeout_s=self.provider_connect_timeout_s,
            read_timeout_s=self.provider_read_timeout_s,
            deadline_s=self.provider_deadline_s,
        )

    @property
    def face(self) -> FaceConfig:
        return FaceConfig(threshold=self.face_threshold)

    def problems(self) -> list[str]:
        """What stops the production (non-sandbox) configuration: missing credentials, emulator URLs."""
        out: list[str] = []

        def need(prefix: str, **values: object) -> None:
            missing = [f"YIWANG_{k.upper()}" for k, v in values.items() if v in (None, "")]
            if missing:
                out.append(f"{prefix}: set {', '.join(missing)}")

        if self.sms_provider == "sandbox":
            out.append("sms: YIWANG_SMS_PROVIDER is `sandbox` (choose aliyun or tencent)")
        elif self.sms_provider == "aliyun":
            need("sms (aliyun)", aliyun_access_key_id=self.aliyun_access_key_id,
                 aliyun_access_key_secret=self.aliyun_access_key_secret,
                 aliyun_sms_sign_name=self.aliyun_sms_sign_name,
                 aliyun_sms_template_code=self.aliyun_sms_template_code)  # fmt: skip
        else:
            need("sms (tencent)", tencent_secret_id=self.tencent_secret_id, tencent_secret_key=self.tencent_secret_key,
                 tencent_sms_app_id=self.tencent_sms_app_id, tencent_sms_sign_name=self.tencent_sms_sign_name,
                 tencent_sms_template_id=self.tencent_sms_template_id)  # fmt: skip
        need("unionpay", unionpay_mer_id=self.unionpay_mer_id, unionpay_sign_key_file=self.unionpay_sign_key_file,
             unionpay_sign_cert_file=self.unionpay_sign_cert_file,
             unionpay_encrypt_cert_file=self.unionpay_encrypt_cert_file,
             unionpay_root_cert_file=self.unionpay_root_cert_file,
             unionpay_middle_cert_file=self.unionpay_middle_cert_file)  # fmt: skip
        need("alipay", alipay_app_id=self.alipay_app_id, alipay_app_private_key_file=self.alipay_app_private_key_file,
             alipay_public_key_file=self.alipay_public_key_file)  # fmt: skip
        need("registry", registry_base_url=self.registry_base_url, registry_key_id=self.registry_key_id,
             registry_secret=self.registry_secret)  # fmt: skip
        need("carrier", aliyun_access_key_id=self.aliyun_access_key_id,
             aliyun_access_key_secret=self.aliyun_access_key_secret, carrier_auth_code=self.carrier_auth_code)  # fmt: skip
        urls = {
            "aliyun_sms_base_url": self.aliyun_sms_base_url,
            "tencent_sms_base_url": self.tencent_sms_base_url,
            "unionpay_base_url": self.unionpay_base_url,
            "alipay_gateway_url": self.alipay_gateway_url,
            "alipay_authorize_url": self.alipay_authorize_url,
            "registry_base_url": self.registry_base_url or "",
            "carrier_base_url": self.carrier_base_url,
        }
        for name, url in urls.items():
            if any(m in url for m in _EMULATOR_MARKERS):
                out.append(f"YIWANG_{name.upper()} points at an emulator ({url})")
        return out

    def production_config(self) -> AdaptersConfig:
        problems = self.problems()
        if problems:
            raise ProviderConfigError(problems)

        def read(path: Path | None) -> str:
            assert path is not None
            return path.read_text(encoding="utf-8")

        sms: SmsConfig
        if self.sms_provider == "aliyun":
            sms = AliyunSmsConfig(
                base_url=self.aliyun_sms_base_url, access_key_id=str(self.aliyun_access_key_id),
                access_key_secret=self.aliyun_access_key_secret or SecretStr(""),
                sign_name=str(self.aliyun_sms_sign_name), template_code=str(self.aliyun_sms_template_code),
                http=self.http,
            )  # fmt: skip
        else:
            sms = TencentSmsConfig(
                base_url=self.tencent_sms_base_url, secret_id=str(self.tencent_secret_id),
                secret_key=self.tencent_secret_key or SecretStr(""), sdk_app_id=str(self.tencent_sms_app_id),
                sign_name=str(self.tencent_sms_sign_name), template_id=str(self.tencent_sms_template_id),
                http=self.http,
            )  # fmt: skip
        return AdaptersConfig(
            sms=sms,
            unionpay=UnionPayConfig(
                base_url=self.unionpay_base_url,
                mer_id=str(self.unionpay_mer_id),
                sign_key_pem=SecretStr(read(self.unionpay_sign_key_file)),
                sign_cert_pem=read(self.unionpay_sign_cert_file),
                encrypt_cert_pem=read(self.unionpay_encrypt_cert_file),
                root_cert_pem=read(self.unionpay_root_cert_file),
                middle_cert_pem=read(self.unionpay_middle_cert_file),
                http=self.http.model_copy(update={"deadline_s": max(self.provider_deadline_s, 30.0)}),
            ),  # fmt: skip
            alipay=AlipayConfig(
                gateway_url=self.alipay_gateway_url,
                authorize_url=self.alipay_authorize_url,
                app_id=str(self.alipay_app_id),
                app_private_key_pem=SecretStr(read(self.alipay_app_private_key_file)),
                alipay_public_key_pem=read(self.alipay_public_key_file),
                http=self.http,
            ),  # fmt: skip
            registry=RegistryConfig(
                base_url=str(self.registry_base_url),
                key_id=str(self.registry_key_id),
                secret=self.registry_secret or SecretStr(""),
                http=self.http,
            ),  # fmt: skip
            carrier=CarrierConfig(
                base_url=self.carrier_base_url,
                access_key_id=str(self.aliyun_access_key_id),
                access_key_secret=self.aliyun_access_key_secret or SecretStr(""),
                auth_code=str(self.carrier_auth_code),
                http=self.http,
            ),  # fmt: skip
            face=self.face,
        )


def open_sandbox(settings: Settings, providers: ProviderSettings) -> Sandbox:
    """The emulators for this data directory (keys and state shared by every worker and the CLI)."""
    return Sandbox(state_dir=settings.data_dir / "sandbox", photos_dir=providers.sandbox_photos_dir)


def adapters_config(settings: Settings, providers: ProviderSettings, sandbox: Sandbox | None) -> AdaptersConfig:
    """Sandbox mode: every adapter at its emulator (in-process); otherwise the production configuration."""
    if not settings.sandbox:
        return providers.production_config()
    if sandbox is None:
        raise ValueError("sandbox mode needs the Sandbox whose emulators the adapters should target")
    return sandbox.adapters_config(
        Sandbox.INTERNAL,
        sms=providers.sms_provider,
        browser_base_url=f"{settings.issuer}/sandbox",
        http=providers.http,
        face=providers.face,
    )


def build_adapters_from_settings(
    settings: Settings, providers: ProviderSettings | None = None, on_call: AuditHook | None = None
) -> tuple[Adapters, Sandbox | None]:
    """Every adapter, ready to use; in sandbox mode also the Sandbox to mount at `/sandbox` (`sandbox.mount`)."""
    providers = providers or ProviderSettings()
    if not settings.sandbox:
        return build_adapters(providers.production_config(), on_call), None
    sandbox = open_sandbox(settings, providers)
    config = adapters_config(settings, providers, sandbox)
    return build_adapters(config, on_call, transport=sandbox.transport()), sandbox
