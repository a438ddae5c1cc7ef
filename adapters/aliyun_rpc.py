"""What every Aliyun RPC-style API call shares (Dysmsapi, Dytnsapi): the common parameters, RPC signature v1
(`adapters.rpc_v1`), and the JSON answer whose `Code` must be `OK`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from adapters import rpc_v1
from adapters.base import AuditHook
from adapters.config import HttpConfig
from adapters.errors import InvalidResponse, ProviderError
from adapters.resilience import classify_status
from adapters.transport import HttpAdapter


class AliyunConfig(Protocol):
    @property
    def base_url(self) -> str: ...
    @property
    def access_key_id(self) -> str: ...
    @property
    def access_key_secret(self) -> SecretStr: ...
    @property
    def region_id(self) -> str: ...
    @property
    def http(self) -> HttpConfig: ...


class AliyunRpcAdapter(HttpAdapter):
    """An adapter for one Aliyun RPC API `version`; subclasses name their `provider` and operations."""

    version: str

    def __init__(
        self,
        config: AliyunConfig,
        on_call: AuditHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config.base_url, config.http, on_call, transport)
        self._clock = clock
        self._key_id, self._secret, self._region = config.access_key_id, config.access_key_secret, config.region_id

    def signed_params(self, action: str, params: dict[str, str]) -> dict[str, str]:
        timestamp = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        common = {
            "AccessKeyId": self._key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self._region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": timestamp,
            "Version": self.version,
        }
        return rpc_v1.sign_params({**common, **params}, self._secret.get_secret_value())

    async def _get(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        response = await self.client.get(self.url("/"), params=self.signed_params(action, params))
        classify_status(self.provider, response)
        try:
            body = response.json()
        except ValueError as exc:
            raise InvalidResponse(self.provider, f"not JSON (HTTP {response.status_code})") from exc
        if not isinstance(body, dict):
            raise InvalidResponse(self.provider, "not a JSON object")
        if body.get("Code") != "OK":
            raise ProviderError(self.provider, str(body.get("Code", response.status_code)), str(body.get("Message")))
        return body
