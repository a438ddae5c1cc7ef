"""One typed settings object, read from `YIWANG_*` environment variables or `.env`, once, at start-up."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIWANG_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="Where the database, keys and logs live.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite inside data_dir.")
    issuer: str = Field("http://127.0.0.1:8000", description="The OpenID issuer URL, without trailing /.")
    sandbox: bool = Field(True, description="Emulated providers and demo pages; loudly announced.")
    master_key_source: Literal["file", "env", "pkcs11"] = "file"
    master_key: SecretStr | None = Field(None, description="Base64 master key when the source is env.")
    redis_url: str | None = None
    token_alg: Literal["ES256", "RS256"] = "ES256"
    max_token_lifetime_s: int = Field(
        86400, description="Longest lifetime of any token we sign: how long a retired key stays published."
    )
    uscc_authorities: str = Field(
        "",
        description="Comma-separated registration authorities or authority+type pairs accepted in USCCs "
        "(e.g. `1,5,9,Y` or `11,91`); empty accepts every authority in the GB 32100 tables.",
    )
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
    log_level: str = "INFO"
    access_log: bool = Field(True, description="One JSON line per HTTP request (credentials and PII masked).")

    # OAuth 2.0 / OpenID Connect lifetimes (seconds).
    access_token_ttl: int = 600
    id_token_ttl: int = 600
    refresh_token_ttl: int = 30 * 86400
    code_ttl: int = 60
    session_ttl: int = 8 * 3600
    flow_ttl: int = 1800
    # SMS one-time codes and the limits around them.
    otp_ttl: int = 300
    otp_max_attempts: int = 5
    sms_per_phone_per_minute: int = 1
    sms_per_phone_per_day: int = 10
    sms_per_ip_per_10min: int = 30

    @field_validator("issuer")
    @classmethod
    def _no_trailing_slash(cls, v: str) -> str:
        return v.rstrip("/")

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
