"""One typed settings tree, read from `YIWANG_*` environment variables or `.env`, once, at start-up, and passed
down: the service's own settings, and under `providers` the external providers' (credentials, base URLs).

This is the only module that reads the environment. A value the service does not support (a master-key
source not implemented, an unknown log level) is refused here, when the settings are built: `load()` turns
the refusal into one line naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    aliyun_sms_link_template_code: str | None = None
    tencent_sms_base_url: str = "https://sms.tencentcloudapi.com"
    tencent_secret_id: str | None = None
    tencent_secret_key: SecretStr | None = None
    tencent_sms_app_id: str | None = None
    tencent_sms_sign_name: str | None = None
    tencent_sms_template_id: str | None = None
    tencent_sms_link_template_id: str | None = None

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
                link_template_code=self.aliyun_sms_link_template_code or "",
                http=self.http,
            )  # fmt: skip
        else:
            sms = TencentSmsConfig(
                base_url=self.tencent_sms_base_url, secret_id=str(self.tencent_secret_id),
                secret_key=self.tencent_secret_key or SecretStr(""), sdk_app_id=str(self.tencent_sms_app_id),
                sign_name=str(self.tencent_sms_sign_name), template_id=str(self.tencent_sms_template_id),
                link_template_id=self.tencent_sms_link_template_id or "",
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


class Hall(BaseModel):
    """A government service hall with a unified-identity counter."""

    id: str = Field(max_length=64)
    name: str
    address: str
    hours: str


DEFAULT_HALLS = (
    Hall(
        id="city",
        name="市民服务中心 City Service Centre",
        address="市府路 1 号 1 Shifu Road",
        hours="周一至周五 9:00-17:00",
    ),
    Hall(
        id="east",
        name="东区政务服务大厅 East District Hall",
        address="东大街 88 号 88 East Street",
        hours="周一至周六 9:00-17:00",
    ),
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIWANG_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="Where the database, keys and logs live.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite inside data_dir.")
    issuer: str = Field("http://127.0.0.1:8000", description="The OpenID issuer URL, without trailing /.")
    sandbox: bool = Field(True, description="Emulated providers and demo pages; loudly announced.")
    # Only what `keys.master` implements: a master key in an HSM is not, and is refused at start-up.
    master_key_source: Literal["file", "env"] = "file"
    master_key: SecretStr | None = Field(None, description="Base64 master key when the source is env.")
    redis_url: str | None = None
    token_alg: Literal["ES256", "RS256"] = "ES256"
    max_token_lifetime_s: int = Field(
        86400, description="Longest lifetime of any token we sign: how long a retired key stays published."
    )
    signing_key_refresh_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How often each process re-reads the token signing keys: the longest a "
        "rotation takes to reach every node (signing with the new key, publishing it in /jwks).",
    )
    uscc_authorities: str = Field(
        "",
        description="Comma-separated registration authorities or authority+type pairs accepted in USCCs "
        "(e.g. `1,5,9,Y` or `11,91`); empty accepts every authority in the GB 32100 tables.",
    )
    # Seal keys in an HSM (signing.pkcs11_keys): the PKCS#11 library, the token's label and its user PIN.
    pkcs11_module: str = Field("/usr/lib/softhsm/libsofthsm2.so", description="Path of the PKCS#11 library.")
    pkcs11_token: str | None = Field(None, description="Label of the token that holds seal keys.")
    pkcs11_pin: SecretStr | None = Field(None, description="The token's user PIN.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    audit_seal_interval_s: float = Field(
        5.0, ge=0, description="How often each app process seals waiting audit events (0: only `yiwang audit seal`)."
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated IP addresses or networks of the reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed (e.g. `172.28.0.10` or `10.0.0.0/8`); empty trusts none.",
    )
    max_form_body_bytes: int = Field(64 * 1024, ge=1024, description="Request body limit of OAuth, forms and APIs.")
    max_face_body_bytes: int = Field(13 * 1024 * 1024, ge=1024, description="Request body limit for face frames.")
    max_document_bytes: int = Field(50 * 1024 * 1024, ge=1024, description="Largest PDF accepted in an upload.")
    # Verifying an uploaded PDF is open to anyone: bounded per document and per process (signing.verify_worker).
    verify_max_signatures: int = Field(50, ge=1, description="Most signature fields a PDF to verify may have.")
    verify_max_revisions: int = Field(200, ge=1, description="Most incremental revisions a PDF to verify may have.")
    verify_timeout_s: float = Field(30.0, gt=0, description="Deadline of one verification (seconds); then a 422.")
    verify_workers: int = Field(2, ge=1, description="Verifications at once per process; more get a 503.")
    access_log: bool = Field(True, description="One JSON line per HTTP request (credentials and PII masked).")

    # OAuth 2.0 / OpenID Connect lifetimes (seconds).
    access_token_ttl: int = 600
    id_token_ttl: int = 600
    refresh_token_ttl: int = 30 * 86400
    code_ttl: int = 60
    session_ttl: int = 8 * 3600
    flow_ttl: int = 1800
    # Pushed authorization requests (RFC 9126) and DPoP (RFC 9449).
    par_ttl: int = Field(90, ge=5, le=600, description="How long a pushed request's request_uri lives (seconds).")
    require_par: bool = Field(False, description="Every client must push its authorization requests (RFC 9126 §4).")
    dpop_proof_max_age_s: int = Field(
        300, ge=10, le=3600, description="How old a DPoP proof's iat may be; its jti is remembered this long."
    )
    dpop_clock_leeway_s: int = Field(30, ge=0, le=300, description="How far in the future a DPoP proof's iat may be.")
    dpop_nonce_required: bool = Field(True, description="The token endpoint demands a server nonce in DPoP proofs.")
    dpop_nonce_at_resources: bool = Field(False, description="UserInfo and our APIs demand a DPoP nonce too.")
    dpop_nonce_rotation_s: int = Field(300, ge=30, le=3600, description="How often the DPoP server nonce changes.")
    # SMS one-time codes and the limits around them.
    otp_ttl: int = 300
    otp_max_attempts: int = 5
    # Budgets are split by who asks (idp/authn/sms_limits.py): a device's own budget for a number is never
    # spent by another device, so requests for someone's number can't lock them out.
    sms_per_phone_per_minute: int = Field(1, ge=1, description="Codes one device may have sent to a number a minute.")
    sms_per_phone_per_day: int = Field(10, ge=1, description="Codes one device may have sent to a number a day.")
    sms_per_phone_per_ip_per_day: int = Field(
        10, ge=1, description="Codes a number may be sent a day at the request of one IP address (unknown devices)."
    )
    sms_per_phone_from_others_per_day: int = Field(
        30, ge=1, description="Codes a number may be sent a day from devices that never signed in with it."
    )
    sms_per_ip_per_10min: int = Field(30, ge=1, description="Codes one IP address may ask for in 10 minutes.")
    sms_pow_bits: int = Field(16, ge=1, le=32, description="Proof-of-work difficulty after a number's first code.")
    sms_pow_wait_s: int = Field(60, ge=0, description="Without a proof of work (no JavaScript): the wait instead.")
    sms_max_per_hour: int = Field(1000, ge=1, description="All SMS the service sends in an hour (the spend cap).")
    sms_alert_warning_percent: int = Field(80, ge=1, le=100, description="Operator warning at this share of the cap.")
    # CIBA (idp/oauth/ciba.py): how long an auth_req_id lives (and the most a client may ask), the polling
    # interval, and limits per client and per phone number.
    ciba_ttl: int = Field(300, ge=30, description="Default lifetime of a CIBA auth_req_id (seconds).")
    ciba_max_ttl: int = Field(900, ge=30, description="Longest lifetime a client may ask with requested_expiry.")
    ciba_interval: int = Field(5, ge=1, description="Minimum seconds between a CIBA client's polls.")
    ciba_per_client_per_minute: int = 60
    ciba_per_phone_per_hour: int = 5
    # The sign-in journey.
    terms_version: str = Field(
        "2026-11", description="Version of the user agreement and privacy notice; a new one is shown again."
    )
    # The device authorization grant (RFC 8628) and shared devices (kiosks).
    device_code_ttl: int = Field(600, ge=60, description="How long a device code and its user code live (seconds).")
    device_poll_interval: int = Field(5, ge=1, description="The least interval between device-code polls (seconds).")
    device_guesses_per_ip_per_10min: int = Field(
        20, ge=1, description="User codes one address may try at /device in ten minutes."
    )
    device_guesses_per_10min: int = Field(
        2000, ge=1, description="User codes everyone together may try at /device in ten minutes."
    )
    kiosk_idle_timeout: int = Field(
        90, ge=10, description="Seconds without a touch before a shared-device screen cancels and clears itself."
    )
    shared_session_ttl: int = Field(
        600, ge=30, description="Longest life of a sign-in on a shared device (it ends when its journey ends)."
    )
    counter_code_ttl: int = Field(1800, description="How long a one-time counter code waits for staff (seconds).")
    halls: list[Hall] = Field(
        default_factory=lambda: list(DEFAULT_HALLS),
        description="Service halls with an identity counter (JSON list of {id, name, address, hours}).",
    )
    # The operator console (idp/web/console): idle and absolute session lifetimes, and how recent a second
    # factor must be before a dangerous action (grant a role, rotate a secret, revoke a seal).
    console_idle_s: int = Field(900, ge=60, description="Console session idle timeout (seconds).")
    console_ttl_s: int = Field(4 * 3600, ge=300, description="Console session absolute lifetime (seconds).")
    console_reauth_s: int = Field(300, ge=30, description="Second factor asked again after this (seconds).")
    # Identity-matching attempts (registry, carrier, UnionPay, Alipay certify, face): idp/proofing/limits.py.
    proofing_per_person_per_hour: int = 5
    proofing_per_person_per_day: int = 10
    proofing_per_ip_per_hour: int = 20
    proofing_per_ip_per_day: int = 60
    face_flows_per_person_per_day: int = 5
    provider_paid_calls_per_day: int = 5000
    # 人证合一 at a hall kiosk (idp/kiosk/): the shared device's short-lived tokens and its own attempt limits.
    kiosk_token_ttl: int = Field(300, ge=30, le=3600, description="Lifetime of a kiosk's access and ID tokens.")
    kiosk_attempts_per_hour: int = Field(120, ge=1, description="Card-and-face attempts one kiosk may make an hour.")
    kiosk_attempts_per_day: int = Field(600, ge=1, description="Card-and-face attempts one kiosk may make a day.")

    providers: ProviderSettings = Field(default_factory=ProviderSettings)

    @field_validator("issuer")
    @classmethod
    def _no_trailing_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, v: str) -> str:
        for item in (i.strip() for i in v.split(",")):
            if not item:
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return v

    @property
    def trusted_proxy_list(self) -> tuple[str, ...]:
        return tuple(i.strip() for i in self.trusted_proxies.split(",") if i.strip())

    @cached_property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'yiwang.db').resolve()}"

    @property
    def master_key_path(self) -> Path:
        return self.data_dir / "keys" / "master.key"

    @property
    def uscc_allow_list(self) -> frozenset[str] | None:
        codes = frozenset(a.strip().upper() for a in self.uscc_authorities.split(",") if a.strip())
        return codes or None


class SettingsError(Exception):
    """A setting the service cannot run with; the message is one line naming the variable."""


def _one_line(exc: ValidationError, prefix: str = "YIWANG_") -> str:
    parts = []
    for error in exc.errors():
        name = prefix + "_".join(str(p) for p in error["loc"] if p != "providers").upper()
        parts.append(f"{name}: {error['msg']}")
    return "invalid setting " + "; ".join(parts)


def load(**overrides: object) -> Settings:
    """The settings from the environment (and `overrides`), or SettingsError in one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


# prometheus_client chooses, when it is imported, between one process's values and files shared by workers,
# by this environment variable: the one value the service hands to its workers through the environment.
PROMETHEUS_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_directory() -> str | None:
    return os.environ.get(PROMETHEUS_MULTIPROC_ENV)


def share_metrics_directory(path: Path) -> None:
    os.environ[PROMETHEUS_MULTIPROC_ENV] = str(path)
