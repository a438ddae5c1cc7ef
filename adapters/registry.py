"""Population registry client: name + ID number check and the registered photo (adapters/population-registry.md).

`verify` is a read, so it is retried on network errors and 5xx — each attempt signed afresh (new nonce and
timestamp). Every answer's signature is checked, bound to this request's nonce, before it is believed.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters import registry_protocol as rp
from adapters.base import AuditHook, CheckResult, RegistryResult
from adapters.config import RegistryConfig
from adapters.errors import AdapterError, InvalidResponse, ProviderError
from adapters.masking import mask_id_number, mask_name
from adapters.resilience import classify_status
from adapters.transport import HttpAdapter

__all__ = ["RegistryClient"]

RESULTS = ("match", "mismatch", "not_found")


class RegistryClient(HttpAdapter):
    provider = "registry"

    def __init__(
        self,
        config: RegistryConfig,
        on_call: AuditHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config.base_url, config.http, on_call, transport)
        self.config = config
        self._secret = config.secret.get_secret_value().encode()
        self._clock = clock
        self._path_prefix = urlsplit(self.base_url).path

    async def _exchange(self, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        nonce = secrets.token_hex(16)
        ts = int(self._clock())
        full_path = self._path_prefix + path
        headers = {
            "Authorization": rp.authorization_header(
                self.config.key_id, self._secret, method, full_path, ts, nonce, body
            ),
            "Content-Type": "application/json",
        }
        response = await self.client.request(method, self.url(path), content=body, headers=headers)
        classify_status(self.provider, response)
        parsed = rp.parse_response_header(response.headers.get("X-Registry-Signature", ""))
        if parsed is None:
            raise InvalidResponse(self.provider, f"unsigned answer (HTTP {response.status_code})")
        resp_ts, sig = parsed
        text = rp.response_string(nonce, response.status_code, resp_ts, response.content)
        if not rp.matches(self._secret, text, sig):
            raise InvalidResponse(self.provider, "response signature does not verify")
        if abs(resp_ts - int(self._clock())) > rp.MAX_SKEW_S:
            raise InvalidResponse(self.provider, "response timestamp outside the allowed clock skew")
        try:
            data = response.json()
        except ValueError as exc:
            raise InvalidResponse(self.provider, "not JSON") from exc
        if not isinstance(data, dict):
            raise InvalidResponse(self.provider, "not a JSON object")
        if response.status_code != 200:
            raise ProviderError(
                self.provider, str(data.get("error", response.status_code)), str(data.get("message", ""))
            )
        return data

    async def verify(self, name: str, id_number: str, include_photo: bool = True) -> RegistryResult:
        payload = {"name": name, "id_number": id_number, "include_photo": include_photo}

        async def call() -> RegistryResult:
            data = await self._exchange("POST", "/v1/verify", payload)
            code = data.get("result")
            if code not in RESULTS:
                raise InvalidResponse(self.provider, "unknown result")
            photo, media_type = None, None
            if code == "match" and isinstance(data.get("photo"), dict):
                try:
                    photo = base64.b64decode(str(data["photo"].get("data", "")), validate=True)
                except binascii.Error as exc:
                    raise InvalidResponse(self.provider, "photo is not base64") from exc
                media_type = str(data["photo"].get("media_type", "application/octet-stream"))
            return RegistryResult(code == "match", photo, str(code), media_type)

        return await self.guard.run(
            "verify",
            call,
            detail={"name": mask_name(name), "id_number": mask_id_number(id_number), "include_photo": include_photo},
            retry=self.retry,
            outcome=lambda r: ("ok" if r.matched else "refused", {"code": r.code, "photo": r.photo is not None}),
        )

    async def check(self) -> CheckResult:
        started = time.perf_counter()
        try:
            data = await self.guard.run("check", lambda: self._exchange("GET", "/v1/status", None), retry=self.retry)
            ok, detail = data.get("status") == "ok", f"signed status {data.get('status')!r} verified"
        except AdapterError as exc:
            ok, detail = False, exc.message
        return CheckResult("registry", ok, self.base_url, detail, round((time.perf_counter() - started) * 1000, 1))
