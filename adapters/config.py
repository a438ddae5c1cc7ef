"""Adapter configuration: plain pydantic models passed to constructors (adapters never read the environment).

`idp.provider_settings` builds these from `YIWANG_*` settings; `adapters.sandbox.Sandbox.adapters_config()`
builds them for the in-process emulators. Key material is PEM text; secrets are SecretStr so that a repr or
a log line never shows them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "HttpConfig",
    "OutboxSmsConfig",
    "AliyunSmsConfig",
    "TencentSmsConfig",
    "SmsConfig",
    "UnionPayConfig",
    "AlipayConfig",
    "RegistryConfig",
    "CarrierConfig",
    "FaceConfig",
    "AdaptersConfig",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HttpConfig(_Frozen):
    """Bounded time for every call. `deadline_s` caps one whole operation, retries and queries included."""

    connect_timeout_s: float = Field(3.0, gt=0)
    read_timeout_s: float = Field(5.0, gt=0)
    deadline_s: float = Field(15.0, gt=0)
    retry_attempts: int = Field(3, ge=1, le=10, description="Attempts in all, for idempotent calls only.")
    retry_backoff_s: float = Field(0.2, ge=0)
    breaker_failures: int = Field(5, ge=1, description="Consecutive failures that open the circuit.")
    breaker_cooldown_s: float = Field(30.0, gt=0, description="How long it stays open before one trial call.")
    verify_tls: bool = True


class OutboxSmsConfig(_Frozen):
    """The sandbox gateway: messages land in the outbox emulator instead of a phone."""

    kind: Literal["sandbox"] = "sandbox"
    base_url: str
    token: SecretStr
    http: HttpConfig = HttpConfig()


class AliyunSmsConfig(_Frozen):
    """Aliyun Dysmsapi `SendSms` (2017-05-25), RPC signature v1."""

    kind: Literal["aliyun"] = "aliyun"
    base_url: str = "https://dysmsapi.aliyuncs.com"
    access_key_id: str
    access_key_secret: SecretStr
    sign_name: str
    template_code: str
    # The approved template for links (CIBA approval requests); its variable is `${link}`.
    link_template_code: str = ""
    region_id: str = "cn-hangzhou"
    http: HttpConfig = HttpConfig()


class TencentSmsConfig(_Frozen):
    """Tencent Cloud SMS `SendSms` (2021-01-11), TC3-HMAC-SHA256."""

    kind: Literal["tencent"] = "tencent"
    base_url: str = "https://sms.tencentcloudapi.com"
    secret_id: str
    secret_key: SecretStr
    sdk_app_id: str
    sign_name: str
    template_id: str
    # The approved template for links (CIBA approval requests); its one parameter is the link.
    link_template_id: str = ""
    region: str = "ap-guangzhou"
    http: HttpConfig = HttpConfig()


SmsConfig = Annotated[OutboxSmsConfig | AliyunSmsConfig | TencentSmsConfig, Field(discriminator="kind")]


class UnionPayConfig(_Frozen):
    """UnionPay ACP 5.1.0 real-name (4-element) verification, signMethod 01 (RSA-SHA256)."""

    base_url: str = "https://gateway.95516.com"
    mer_id: str
    sign_key_pem: SecretStr = Field(description="Our merchant signing private key (PEM).")
    sign_cert_pem: str = Field(description="Our merchant signing certificate (PEM); its serial is certId.")
    encrypt_cert_pem: str = Field(description="UnionPay's sensitive-data encryption certificate (PEM).")
    root_cert_pem: str = Field(description="UnionPay's root CA certificate: responses must chain to it.")
    middle_cert_pem: str = Field(description="UnionPay's intermediate CA certificate.")
    strict_cn: bool = Field(True, description="Accept only the production signer name in signPubKeyCert's CN.")
    query_attempts: int = Field(5, ge=1, le=20, description="queryTrans calls after a 03/04/05 answer.")
    query_interval_s: float = Field(1.0, ge=0, description="First wait before a query; doubles each time.")
    http: HttpConfig = HttpConfig(deadline_s=30.0)


class AlipayConfig(_Frozen):
    """Alipay Open Platform, RSA2 in public-key mode."""

    gateway_url: str = "https://openapi.alipay.com/gateway.do"
    authorize_url: str = "https://openauth.alipay.com/oauth2/publicAppAuthorize.htm"
    browser_gateway_url: str | None = Field(None, description="Gateway as the user's browser reaches it.")
    app_id: str
    app_private_key_pem: SecretStr
    alipay_public_key_pem: str
    http: HttpConfig = HttpConfig()


class RegistryConfig(_Frozen):
    """The city population registry, over the signed JSON protocol in adapters/population-registry.md."""

    base_url: str
    key_id: str
    secret: SecretStr
    http: HttpConfig = HttpConfig()


class CarrierConfig(_Frozen):
    """Aliyun Dytnsapi (号码百科) `ThreeElementsVerification` (2020-02-17), RPC signature v1."""

    base_url: str = "https://dytnsapi.aliyuncs.com"
    access_key_id: str
    access_key_secret: SecretStr
    auth_code: str = Field(description="The authorisation code of the approved three-element tag application.")
    region_id: str = "cn-hangzhou"
    http: HttpConfig = HttpConfig()


class FaceConfig(_Frozen):
    threshold: float = Field(
        0.5, gt=0, lt=2, description="Same person when the distance is at most this (measured: adapters/face.py)."
    )
    max_side: int = Field(1024, ge=160, description="Larger images are scaled down before detection.")
    min_detection_score: float = Field(0.5, description="HOG detections scoring below this are not counted as faces.")


class AdaptersConfig(_Frozen):
    """Everything needed to build every adapter (`adapters.factory.build_adapters`)."""

    sms: SmsConfig
    unionpay: UnionPayConfig | None = None
    alipay: AlipayConfig | None = None
    registry: RegistryConfig | None = None
    carrier: CarrierConfig | None = None
    face: FaceConfig = FaceConfig()
