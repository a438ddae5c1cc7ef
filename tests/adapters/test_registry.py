"""Population registry client against the emulator over HTTP (protocol: adapters/population-registry.md)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from adapters import registry_protocol as rp
from adapters.config import AdaptersConfig, RegistryConfig
from adapters.errors import InvalidResponse, ProviderError
from adapters.registry import RegistryClient
from adapters.sandbox import Sandbox, dataset

pytestmark = pytest.mark.anyio
ZHANG, LI, CHEN = dataset.PEOPLE[0], dataset.PEOPLE[1], dataset.PEOPLE[4]


def _cfg(config: AdaptersConfig, **changes: Any) -> RegistryConfig:
    assert config.registry is not None
    return config.registry.model_copy(update=changes)


async def test_match_returns_the_registered_photo(config: AdaptersConfig, grace_hopper: bytes, audit: Any) -> None:
    async with RegistryClient(_cfg(config), on_call=audit) as registry:
        result = await registry.verify(ZHANG.name, ZHANG.id_number)
        assert (result.matched, result.code, result.photo, result.photo_media_type) == (
            True, "match", grace_hopper, "image/jpeg")  # fmt: skip
        assert (await registry.verify(ZHANG.name, ZHANG.id_number, include_photo=False)).photo is None
        assert (await registry.verify(LI.name, LI.id_number)).photo is None  # registered without a photo
    assert audit.calls[0][3]["id_number"] == "110***********0012" and audit.calls[0][3]["name"] == "张*"
    assert ZHANG.id_number not in audit.text() and ZHANG.name not in audit.text()


async def test_mismatch_and_not_found(config: AdaptersConfig) -> None:
    async with RegistryClient(_cfg(config)) as registry:
        mismatch = await registry.verify("张三", ZHANG.id_number)
        assert (mismatch.matched, mismatch.code, mismatch.photo) == (False, "mismatch", None)
        missing = await registry.verify(CHEN.name, CHEN.id_number)
        assert (missing.matched, missing.code) == (False, "not_found")


async def test_transient_failure_is_retried(config: AdaptersConfig, sandbox: Sandbox, audit: Any) -> None:
    sandbox.faults["registry"].fail_next = 2
    async with RegistryClient(_cfg(config), on_call=audit) as registry:
        assert (await registry.verify(LI.name, LI.id_number)).matched
    assert audit.last[3]["attempts"] == 3


async def test_wrong_secret_answer_cannot_be_trusted(config: AdaptersConfig) -> None:
    """The registry refuses the request (401) and signs its refusal with the real secret: we cannot verify it."""
    async with RegistryClient(_cfg(config, secret=SecretStr("wrong"))) as registry:
        with pytest.raises(InvalidResponse):
            await registry.verify(LI.name, LI.id_number)


async def test_unknown_key_id_is_refused(config: AdaptersConfig) -> None:
    async with RegistryClient(_cfg(config, key_id="somebody-else")) as registry:
        with pytest.raises(ProviderError) as refused:
            await registry.verify(LI.name, LI.id_number)
    assert refused.value.code == "unknown_key"


async def test_replayed_request_is_refused(config: AdaptersConfig, sandbox: Sandbox) -> None:
    cfg = _cfg(config)
    body = json.dumps({"name": LI.name, "id_number": LI.id_number}).encode()
    path = httpx.URL(cfg.base_url).path + "/v1/verify"
    nonce, ts = secrets.token_hex(16), int(time.time())
    auth = rp.authorization_header(cfg.key_id, cfg.secret.get_secret_value().encode(), "POST", path, ts, nonce, body)
    async with httpx.AsyncClient() as client:
        first = await client.post(f"{cfg.base_url}/v1/verify", content=body, headers={"Authorization": auth})
        again = await client.post(f"{cfg.base_url}/v1/verify", content=body, headers={"Authorization": auth})
        tampered = await client.post(
            f"{cfg.base_url}/v1/verify", content=body.replace(b"31010", b"31011"), headers={"Authorization": auth}
        )
    assert first.status_code == 200 and first.json()["result"] == "match"
    assert again.status_code == 401 and again.json()["error"] == "replayed_nonce"
    assert tampered.status_code == 401 and tampered.json()["error"] == "bad_signature"


async def test_stale_request_is_refused(config: AdaptersConfig) -> None:
    cfg = _cfg(config)
    async with RegistryClient(cfg, clock=lambda: time.time() - 3600) as registry:
        with pytest.raises((ProviderError, InvalidResponse)):
            await registry.verify(LI.name, LI.id_number)


async def test_check(config: AdaptersConfig) -> None:
    async with RegistryClient(_cfg(config)) as registry:
        assert (await registry.check()).ok
