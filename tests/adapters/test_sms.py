"""The three SMS gateways against their emulators over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from adapters.config import AliyunSmsConfig, HttpConfig, OutboxSmsConfig, TencentSmsConfig
from adapters.errors import ProviderError
from adapters.factory import build_sms
from adapters.sandbox import Sandbox
from adapters.sms_aliyun import aliyun_phone
from adapters.sms_tencent import TencentSmsGateway

pytestmark = pytest.mark.anyio
PHONE = "+8613800138001"


@pytest.mark.parametrize("kind", ["sandbox", "aliyun", "tencent"])
async def test_code_reaches_the_outbox_and_the_audit_is_masked(
    kind: str, sandbox: Sandbox, emulator_url: str, fast_http: HttpConfig, audit: Any
) -> None:
    config = sandbox.sms_config(emulator_url, kind, fast_http)  # type: ignore[arg-type]
    async with build_sms(config, on_call=audit) as gateway:  # type: ignore[attr-defined]
        result = await gateway.send_code(PHONE, "204518")
    assert result.message_id
    assert sandbox.outbox.latest_code(PHONE) == "204518"
    provider, operation, outcome, detail = audit.last
    assert (operation, outcome) == ("send_code", "ok")
    assert detail["phone"] == "+86138****8001"
    assert "13800138001" not in audit.text() and "204518" not in audit.text()


async def test_aliyun_emulator_refuses_a_wrong_secret(
    sandbox: Sandbox, emulator_url: str, fast_http: HttpConfig, audit: Any
) -> None:
    good = sandbox.sms_config(emulator_url, "aliyun", fast_http)
    assert isinstance(good, AliyunSmsConfig)
    async with build_sms(good.model_copy(update={"access_key_secret": SecretStr("wrong")}), on_call=audit) as gateway:  # type: ignore[attr-defined]
        with pytest.raises(ProviderError) as refused:
            await gateway.send_code(PHONE, "111111")
    assert refused.value.code == "SignatureDoesNotMatch"
    assert audit.last[2] == "error"


async def test_tencent_emulator_refuses_a_wrong_secret(
    sandbox: Sandbox, emulator_url: str, fast_http: HttpConfig
) -> None:
    good = sandbox.sms_config(emulator_url, "tencent", fast_http)
    assert isinstance(good, TencentSmsConfig)
    async with build_sms(good.model_copy(update={"secret_key": SecretStr("wrong")})) as gateway:  # type: ignore[attr-defined]
        with pytest.raises(ProviderError) as refused:
            await gateway.send_code(PHONE, "111111")
    assert refused.value.code == "AuthFailure.SignatureFailure"


async def test_tencent_emulator_refuses_a_signature_for_another_host(
    sandbox: Sandbox, emulator_url: str, fast_http: HttpConfig
) -> None:
    """The Host header is signed: a request signed for one host and presented with another is refused."""
    good = sandbox.sms_config(emulator_url, "tencent", fast_http)
    assert isinstance(good, TencentSmsConfig)
    async with TencentSmsGateway(good) as gateway:
        body = b'{"Limit":1,"SmsSdkAppId":"1400000001"}'
        headers = gateway.signed_headers("PullSmsSendStatus", body)
        ok = await gateway.client.post(f"{emulator_url}/tencent-sms/", content=body, headers=headers)
        assert "Error" not in ok.json()["Response"]
        moved = await gateway.client.post(
            f"{emulator_url}/tencent-sms/", content=body, headers={**headers, "Host": "sms.tencentcloudapi.com"}
        )
        assert moved.json()["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"


async def test_unapproved_template_is_a_provider_error(
    sandbox: Sandbox, emulator_url: str, fast_http: HttpConfig
) -> None:
    good = sandbox.sms_config(emulator_url, "aliyun", fast_http)
    assert isinstance(good, AliyunSmsConfig)
    async with build_sms(good.model_copy(update={"template_code": "SMS_999"})) as gateway:  # type: ignore[attr-defined]
        with pytest.raises(ProviderError) as refused:
            await gateway.send_code(PHONE, "111111")
    assert refused.value.code == "isv.SMS_TEMPLATE_ILLEGAL"


async def test_outbox_refuses_a_wrong_token(sandbox: Sandbox, emulator_url: str) -> None:
    async with build_sms(OutboxSmsConfig(base_url=f"{emulator_url}/outbox", token=SecretStr("nope"))) as gateway:  # type: ignore[attr-defined]
        with pytest.raises(ProviderError):
            await gateway.send_code(PHONE, "111111")


def test_aliyun_phone_format() -> None:
    assert aliyun_phone("+8613800138001") == "13800138001"
    assert aliyun_phone("+85291234567") == "85291234567"


@pytest.mark.parametrize("kind", ["sandbox", "aliyun", "tencent"])
async def test_a_link_reaches_the_outbox_with_its_own_template(
    kind: str, sandbox: Sandbox, emulator_url: str, fast_http: HttpConfig, audit: Any
) -> None:
    link = "https://id.example.gov/ciba/abcdefghijklmnopqrstuvwxyz0123456789"
    config = sandbox.sms_config(emulator_url, kind, fast_http)  # type: ignore[arg-type]
    async with build_sms(config, on_call=audit) as gateway:  # type: ignore[attr-defined]
        result = await gateway.send_link(PHONE, link)
    assert result.message_id
    newest = sandbox.outbox.messages(PHONE)[0]
    assert link in newest["text"] and newest["code"] is None
    assert audit.last[1:3] == ("send_link", "ok")


@pytest.mark.parametrize("kind", ["aliyun", "tencent"])
async def test_a_link_without_a_link_template_is_refused(
    kind: str, sandbox: Sandbox, emulator_url: str, fast_http: HttpConfig
) -> None:
    config = sandbox.sms_config(emulator_url, kind, fast_http)  # type: ignore[arg-type]
    field = "link_template_code" if kind == "aliyun" else "link_template_id"
    before = len(sandbox.outbox.messages(PHONE))
    async with build_sms(config.model_copy(update={field: ""})) as gateway:  # type: ignore[attr-defined]
        with pytest.raises(ProviderError) as refused:
            await gateway.send_link(PHONE, "https://id.example.gov/ciba/x")
    assert refused.value.code == "no_link_template"
    assert len(sandbox.outbox.messages(PHONE)) == before


@pytest.mark.parametrize("kind", ["aliyun", "tencent"])
async def test_emulators_refuse_a_link_that_is_not_a_url(
    kind: str, sandbox: Sandbox, emulator_url: str, fast_http: HttpConfig
) -> None:
    config = sandbox.sms_config(emulator_url, kind, fast_http)  # type: ignore[arg-type]
    before = len(sandbox.outbox.messages(PHONE))
    async with build_sms(config) as gateway:  # type: ignore[attr-defined]
        with pytest.raises(ProviderError):
            await gateway.send_link(PHONE, "javascript:alert(1)")
    assert len(sandbox.outbox.messages(PHONE)) == before
