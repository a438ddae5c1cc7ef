"""Alipay login and identity verification against the emulator over HTTP, the browser steps included."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from adapters.alipay import AlipayOpenClient
from adapters.config import AdaptersConfig, AlipayConfig
from adapters.errors import InvalidResponse, ProviderError
from adapters.sandbox import Sandbox, dataset
from adapters.sandbox.keys import generate

pytestmark = pytest.mark.anyio
LI = dataset.PEOPLE[1]
RP = "https://rp.example/callback"


def _cfg(config: AdaptersConfig, **changes: Any) -> AlipayConfig:
    assert config.alipay is not None
    return config.alipay.model_copy(update=changes)


async def _log_in_as(sandbox: Sandbox, client: AlipayOpenClient, person: dataset.Person, state: str) -> str:
    """The browser's part: open the authorize page, pick the account, follow the redirect; returns auth_code."""
    async with httpx.AsyncClient() as browser:
        page = await browser.get(client.authorize_url(state, RP))
        assert page.status_code == 200 and "SANDBOX" in page.text and person.nick_name in page.text
        grant = httpx.URL(str(page.url)).join("grant")
        answer = await browser.post(
            grant, data={"app_id": sandbox.keys.alipay_app_id, "redirect_uri": RP, "state": state,
                         "user_id": person.alipay_user_id},
        )  # fmt: skip
    assert answer.status_code == 303
    back = httpx.URL(answer.headers["location"])
    assert str(back.copy_with(query=None)) == RP
    assert back.params["state"] == state
    return back.params["auth_code"]


async def test_login_exchanges_the_code_and_reads_the_user(
    sandbox: Sandbox, config: AdaptersConfig, audit: Any
) -> None:
    async with AlipayOpenClient(_cfg(config), on_call=audit) as client:
        code = await _log_in_as(sandbox, client, LI, "s-123")
        token = await client.exchange_code(code)
        assert (token.user_id, token.open_id) == (LI.alipay_user_id, LI.alipay_open_id)
        assert token.account == LI.alipay_open_id
        info = await client.user_info(token.access_token)
        assert info.nick_name == LI.nick_name and info.user_id == LI.alipay_user_id
        # Codes are single-use: the second exchange is refused (and never retried by the adapter).
        with pytest.raises(ProviderError) as refused:
            await client.exchange_code(code)
        assert refused.value.code == "isv.code-invalid"
    assert code not in audit.text() and token.access_token not in audit.text()


async def test_identity_verification_passes_after_the_face_step(sandbox: Sandbox, config: AdaptersConfig) -> None:
    async with AlipayOpenClient(_cfg(config)) as client, httpx.AsyncClient() as browser:
        certify_id = await client.certify_initialize("YW-ORDER-1", LI.name, LI.id_number, RP)
        assert await client.certify_query(certify_id) is False  # not done yet
        page = await browser.get(client.certify_url(certify_id))
        assert page.status_code == 200 and "李*" in page.text and LI.id_number not in page.text
        done = await browser.post(page.url.join("certify/complete"), data={"certify_id": certify_id, "result": "pass"})
        assert done.status_code == 303 and done.headers["location"] == RP
        assert await client.certify_query(certify_id) is True


async def test_identity_verification_cannot_pass_for_someone_else(sandbox: Sandbox, config: AdaptersConfig) -> None:
    async with AlipayOpenClient(_cfg(config)) as client, httpx.AsyncClient() as browser:
        certify_id = await client.certify_initialize("YW-ORDER-2", "李四", LI.id_number, RP)
        page = await browser.get(client.certify_url(certify_id))
        assert "value=pass" not in page.text
        await browser.post(page.url.join("certify/complete"), data={"certify_id": certify_id, "result": "pass"})
        assert await client.certify_query(certify_id) is False


async def test_certify_url_is_signed(config: AdaptersConfig) -> None:
    async with AlipayOpenClient(_cfg(config)) as client, httpx.AsyncClient() as browser:
        certify_id = await client.certify_initialize("YW-ORDER-3", LI.name, LI.id_number, RP)
        url = httpx.URL(client.certify_url(certify_id))
        forged = url.copy_set_param("biz_content", '{"certify_id":"SB000"}')
        answer = await browser.get(forged)
        assert "isv.invalid-signature" in answer.text


async def test_gateway_refuses_a_request_signed_with_another_app_key(config: AdaptersConfig) -> None:
    cfg = _cfg(config, app_private_key_pem=SecretStr(generate().alipay_app_key))
    async with AlipayOpenClient(cfg) as client:
        with pytest.raises(ProviderError) as refused:
            await client.certify_query("anything")
    assert refused.value.code == "isv.invalid-signature"


async def test_answer_that_does_not_verify_is_refused(config: AdaptersConfig, audit: Any) -> None:
    cfg = _cfg(config, alipay_public_key_pem=generate().alipay_platform_public_key)
    async with AlipayOpenClient(cfg, on_call=audit) as client:
        with pytest.raises(InvalidResponse):
            await client.certify_query("anything")
    assert audit.last[2] == "invalid_response"


async def test_outer_order_no_is_bounded(config: AdaptersConfig) -> None:
    async with AlipayOpenClient(_cfg(config)) as client:
        with pytest.raises(ValueError):
            await client.certify_initialize("x" * 33, LI.name, LI.id_number, RP)


async def test_check(config: AdaptersConfig) -> None:
    async with AlipayOpenClient(_cfg(config)) as client:
        assert (await client.check()).ok
    bad = _cfg(config, app_private_key_pem=SecretStr(generate().alipay_app_key))
    async with AlipayOpenClient(bad) as client:
        assert not (await client.check()).ok
