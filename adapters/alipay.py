"""Alipay Open Platform: login (`alipay.system.oauth.token`, `alipay.user.info.share`) and identity
verification (`alipay.user.certify.open.initialize` → certify page → `alipay.user.certify.open.query`).

Requests are form POSTs to the gateway, signed RSA2 (`adapters.alipay_sign`). Each response is verified over
the raw text of its `<method>_response` (or `error_response`) member with Alipay's public key before any of
it is read. `code` 10000 is success. Only `certify_query` is retried (a read); the token exchange consumes a
single-use code and is never re-sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters import alipay_sign
from adapters.base import AlipayToken, AlipayUserInfo, AuditHook, CheckResult
from adapters.config import AlipayConfig
from adapters.errors import AdapterError, InvalidResponse, ProviderError
from adapters.masking import mask_id_number, mask_name, mask_token
from adapters.resilience import NO_RETRY, classify_status
from adapters.transport import HttpAdapter

__all__ = ["AlipayOpenClient"]

CHINA = timezone(timedelta(hours=8))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class AlipayOpenClient(HttpAdapter):
    provider = "alipay"

    def __init__(
        self,
        config: AlipayConfig,
        on_call: AuditHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config.gateway_url, config.http, on_call, transport)
        self.config = config
        self._clock = clock
        key = serialization.load_pem_private_key(config.app_private_key_pem.get_secret_value().encode(), None)
        public = serialization.load_pem_public_key(config.alipay_public_key_pem.encode())
        if not isinstance(key, rsa.RSAPrivateKey) or not isinstance(public, rsa.RSAPublicKey):
            raise ValueError("Alipay RSA2 needs RSA keys")
        self._key = key
        self._alipay_key = public

    # -- the wire -------------------------------------------------------------------------------------------
    def signed_params(self, method: str, biz_content: dict[str, Any] | None = None, **extra: str) -> dict[str, str]:
        params = {
            "app_id": self.config.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.fromtimestamp(self._clock(), UTC).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            **extra,
        }
        if biz_content is not None:
            params["biz_content"] = json.dumps(biz_content, ensure_ascii=False, separators=(",", ":"))
        params["sign"] = alipay_sign.sign(params, self._key)
        return params

    def verified_member(self, method: str, text: str) -> dict[str, object]:
        """The verified `<method>_response` object of a raw response body; InvalidResponse when untrusted."""
        try:
            member = alipay_sign.extract_member(text, (alipay_sign.response_member(method), "error_response"))
        except ValueError as exc:
            raise InvalidResponse(self.provider, f"unparseable response: {exc}") from exc
        if member.sign is None:
            if member.name == "error_response":
                # Alipay cannot sign when it could not identify the app (e.g. unknown app_id).
                raise ProviderError(self.provider, str(member.value.get("code")), str(member.value.get("sub_code")))
            raise InvalidResponse(self.provider, "response is not signed")
        if not alipay_sign.verify(member.raw, member.sign, self._alipay_key):
            raise InvalidResponse(self.provider, "response signature does not verify")
        return member.value

    async def _call(self, method: str, biz_content: dict[str, Any] | None = None, **extra: str) -> dict[str, object]:
        response = await self.client.post(self.url(), data=self.signed_params(method, biz_content, **extra))
        classify_status(self.provider, response)
        value = self.verified_member(method, response.text)
        if "code" in value and value.get("code") != "10000":
            code = str(value.get("sub_code") or value.get("code"))
            raise ProviderError(self.provider, code, str(value.get("sub_msg") or value.get("msg") or ""))
        return value

    # -- login ----------------------------------------------------------------------------------------------
    def authorize_url(self, state: str, redirect_uri: str) -> str:
        query = urlencode(
            {"app_id": self.config.app_id, "scope": "auth_user", "redirect_uri": redirect_uri, "state": state}
        )
        return f"{self.config.authorize_url}?{query}"

    async def exchange_code(self, auth_code: str) -> AlipayToken:
        async def call() -> AlipayToken:
            v = await self._call("alipay.system.oauth.token", grant_type="authorization_code", code=auth_code)
            if not v.get("access_token") or not (v.get("user_id") or v.get("open_id")):
                raise InvalidResponse(self.provider, "token response without account or access token")
            return AlipayToken(
                user_id=_text(v.get("user_id")),
                open_id=_text(v.get("open_id")),
                access_token=str(v["access_token"]),
                expires_in=int(str(v.get("expires_in", 0))),
                refresh_token=_text(v.get("refresh_token")),
            )

        return await self.guard.run(
            "oauth_token",
            call,
            detail={"auth_code": mask_token(auth_code)},
            outcome=lambda t: ("ok", {"account": mask_token(t.account)}),
        )

    async def user_info(self, access_token: str) -> AlipayUserInfo:
        async def call() -> AlipayUserInfo:
            v = await self._call("alipay.user.info.share", auth_token=access_token)
            known = {"code", "msg", "user_id", "open_id", "nick_name", "avatar"}
            return AlipayUserInfo(
                user_id=_text(v.get("user_id")),
                open_id=_text(v.get("open_id")),
                nick_name=_text(v.get("nick_name")),
                avatar=_text(v.get("avatar")),
                extra={k: str(val) for k, val in v.items() if k not in known},
            )

        return await self.guard.run(
            "user_info",
            call,
            retry=self.retry,
            outcome=lambda u: ("ok", {"account": mask_token(u.open_id or u.user_id or "")}),
        )

    # -- identity verification ------------------------------------------------------------------------------
    async def certify_initialize(
        self, outer_order_no: str, name: str, id_number: str, return_url: str, biz_code: str = "FACE"
    ) -> str:
        if not 0 < len(outer_order_no) <= 32:
            raise ValueError("outer_order_no must be 1-32 characters")
        biz = {
            "outer_order_no": outer_order_no,
            "biz_code": biz_code,
            "identity_param": {
                "identity_type": "CERT_INFO",
                "cert_type": "IDENTITY_CARD",
                "cert_name": name,
                "cert_no": id_number,
            },
            "merchant_config": {"return_url": return_url},
        }

        async def call() -> str:
            v = await self._call("alipay.user.certify.open.initialize", biz)
            if not v.get("certify_id"):
                raise InvalidResponse(self.provider, "no certify_id")
            return str(v["certify_id"])

        detail = {"outer_order_no": outer_order_no, "name": mask_name(name), "id_number": mask_id_number(id_number)}
        return await self.guard.run("certify_initialize", call, detail=detail, retry=NO_RETRY)

    def certify_url(self, certify_id: str) -> str:
        """`alipay.user.certify.open.certify` as a signed GET URL for the user's browser (or Alipay app)."""
        params = self.signed_params("alipay.user.certify.open.certify", {"certify_id": certify_id})
        return f"{self.config.browser_gateway_url or self.config.gateway_url}?{urlencode(params)}"

    async def certify_query(self, certify_id: str) -> bool:
        async def call() -> bool:
            v = await self._call("alipay.user.certify.open.query", {"certify_id": certify_id})
            return v.get("passed") == "T"

        return await self.guard.run(
            "certify_query",
            call,
            detail={"certify_id": certify_id},
            retry=self.retry,
            outcome=lambda passed: ("ok" if passed else "refused", {"passed": passed}),
        )

    async def check(self) -> CheckResult:
        """Query a certify_id that does not exist: a signed business refusal proves keys in both directions."""
        started = time.perf_counter()
        try:
            await self.guard.run("check", lambda: self._call("alipay.user.certify.open.query", {"certify_id": "check"}))
            ok, detail = True, "signed answer verified"
        except ProviderError as exc:
            if (
                isinstance(exc, InvalidResponse)
                or exc.code.startswith("isv.invalid")
                or exc.code.startswith("isv.missing")
            ):
                ok, detail = False, exc.message
            else:
                ok, detail = True, f"signed refusal ({exc.code}) verified"
        except AdapterError as exc:
            ok, detail = False, exc.message
        return CheckResult("alipay", ok, self.base_url, detail, round((time.perf_counter() - started) * 1000, 1))
