"""Carrier three-element check: the Aliyun Dytnsapi adapter against its emulator over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from adapters.carrier import AliyunCarrierVerifier, digest
from adapters.config import AdaptersConfig, CarrierConfig
from adapters.errors import ProviderError
from adapters.sandbox import dataset

pytestmark = pytest.mark.anyio
ZHANG, LI = dataset.PEOPLE[0], dataset.PEOPLE[1]


def _cfg(config: AdaptersConfig, **changes: Any) -> CarrierConfig:
    assert config.carrier is not None
    return config.carrier.model_copy(update=changes)


async def test_phone_registered_to_the_person_is_consistent(config: AdaptersConfig, audit: Any) -> None:
    async with AliyunCarrierVerifier(_cfg(config), on_call=audit) as carrier:
        result = await carrier.verify(ZHANG.name, ZHANG.id_number, ZHANG.phone)
        assert (result.matched, result.code, result.carrier) == (True, "1", "中国移动")
        # Knowing someone's name and number is not enough: the phone is registered to somebody else.
        assert (await carrier.verify(ZHANG.name, ZHANG.id_number, LI.phone)).matched is False
        assert (await carrier.verify(LI.name, ZHANG.id_number, ZHANG.phone)).matched is False
        # A phone the carrier holds no record of proves nothing either way.
        assert (await carrier.verify(ZHANG.name, ZHANG.id_number, "+8613900000000")).matched is None
    text = audit.text()
    assert ZHANG.id_number not in text and ZHANG.phone not in text and ZHANG.name not in text
    assert audit.last[:3] == ("aliyun_carrier", "three_elements", "unknown")


async def test_wrong_secret_and_wrong_auth_code_are_refused(config: AdaptersConfig) -> None:
    async with AliyunCarrierVerifier(_cfg(config, access_key_secret=SecretStr("wrong"))) as carrier:
        with pytest.raises(ProviderError) as exc:
            await carrier.verify(ZHANG.name, ZHANG.id_number, ZHANG.phone)
        assert exc.value.code == "SignatureDoesNotMatch"
    async with AliyunCarrierVerifier(_cfg(config, auth_code="NOT-APPROVED")) as carrier:
        with pytest.raises(ProviderError) as exc:
            await carrier.verify(ZHANG.name, ZHANG.id_number, ZHANG.phone)
        assert exc.value.code == "AuthCodeNotExist"


async def test_elements_travel_hashed_and_signed_as_published(config: AdaptersConfig, emulator_url: str) -> None:
    """The query on the wire: SHA-256 masked elements, and a signature a from-scratch RPC v1 check accepts."""
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request)

    cfg = _cfg(config)
    async with AliyunCarrierVerifier(cfg) as carrier:
        carrier.client.event_hooks["request"].append(record)
        await carrier.verify(ZHANG.name, ZHANG.id_number, ZHANG.phone)
    params = dict(seen[-1].url.params)
    assert params["Mask"] == "SHA256" and params["Action"] == "ThreeElementsVerification"
    assert params["InputNumber"] == hashlib.sha256(ZHANG.phone[3:].encode()).hexdigest() == digest(ZHANG.phone[3:])
    assert ZHANG.id_number not in str(seen[-1].url) and ZHANG.phone[3:] not in str(seen[-1].url)
    from urllib.parse import quote

    def enc(v: str) -> str:
        return quote(v, safe="-_.~")

    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()) if k != "Signature")
    text = f"GET&%2F&{enc(query)}"
    secret = cfg.access_key_secret.get_secret_value() + "&"
    expected = base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()
    assert params["Signature"] == expected
