"""UnionPay 4-element verification against the ACP emulator over HTTP: every respCode path."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from adapters.config import AdaptersConfig, UnionPayConfig
from adapters.errors import InvalidResponse, ProviderError, ProviderUnavailable
from adapters.sandbox import Sandbox, dataset
from adapters.sandbox.keys import generate
from adapters.unionpay import UnionPayVerifier

pytestmark = pytest.mark.anyio
ZHANG, LI, WANG, LIU, CHEN = dataset.PEOPLE[:5]


def _config(config: AdaptersConfig, **changes: Any) -> UnionPayConfig:
    assert config.unionpay is not None
    return config.unionpay.model_copy(update=changes)


async def _verify(cfg: UnionPayConfig, person: dataset.Person, audit: Any = None, **override: str) -> Any:
    values = {"name": person.name, "id_number": person.id_number, "card_number": person.card, "phone": person.phone}
    async with UnionPayVerifier(cfg, on_call=audit) as verifier:
        return await verifier.verify(**{**values, **override})


async def test_all_four_elements_match(config: AdaptersConfig, audit: Any) -> None:
    result = await _verify(_config(config), ZHANG, audit)
    assert (result.matched, result.code) == (True, "00")
    provider, operation, outcome, detail = audit.last
    assert (provider, operation, outcome) == ("unionpay", "verify_4_elements", "ok")
    assert detail["card"] == "6217***********0012" and detail["id_number"] == "110***********0012"
    assert detail["name"] == "张*" and detail["phone"] == "+86138****8001"
    for secret in (ZHANG.card, ZHANG.id_number, "13800138001", ZHANG.name):
        assert secret not in audit.text()


async def test_phone_without_country_code_is_the_same(config: AdaptersConfig) -> None:
    assert (await _verify(_config(config), LI, phone=LI.phone.removeprefix("+86"))).matched is True


@pytest.mark.parametrize(
    ("override", "code"),
    [({"name": "李四"}, "66"), ({"id_number": LI.id_number}, "66"), ({"phone": "+8613900000000"}, "66"),
     ({"card_number": "6217000000000000020"}, "61")],
)  # fmt: skip
async def test_elements_that_do_not_match(config: AdaptersConfig, override: dict[str, str], code: str) -> None:
    result = await _verify(_config(config), ZHANG, **override)
    assert (result.matched, result.code) == (False, code)


async def test_outcome_unknown_is_queried_until_settled(config: AdaptersConfig, audit: Any, sandbox: Sandbox) -> None:
    """WANG's card answers 03; the first query says 05, the second 00: the adapter asks until it knows."""
    before = sandbox.faults["unionpay"].requests
    result = await _verify(_config(config), WANG, audit)
    assert (result.matched, result.code) == (True, "00")
    assert sandbox.faults["unionpay"].requests - before == 3  # the verification and two queries
    assert audit.last[2] == "ok"


async def test_never_settled_is_undecided_after_bounded_queries(config: AdaptersConfig, audit: Any) -> None:
    result = await _verify(_config(config, query_attempts=3), LIU, audit)
    assert (result.matched, result.code) == (None, "05")
    assert "3 queries" in result.message
    assert audit.last[2] == "unknown"


async def test_risk_control_is_undecided(config: AdaptersConfig) -> None:
    result = await _verify(_config(config), CHEN)
    assert (result.matched, result.code) == (None, "38")


async def test_time_out_on_the_verification_is_resolved_by_query(config: AdaptersConfig, sandbox: Sandbox) -> None:
    """No answer to the verification: the request may have been processed, so ask instead of re-sending."""
    faults = sandbox.faults["unionpay"]
    faults.slow_answer_s, faults.only_path = 1.5, "backTransReq.do"
    cfg = _config(config, http=config.unionpay.http.model_copy(update={"read_timeout_s": 0.3}))  # type: ignore[union-attr]
    result = await _verify(cfg, ZHANG)
    assert (result.matched, result.code) == (True, "00")


async def test_emulator_refuses_a_request_signed_with_another_key(config: AdaptersConfig) -> None:
    stranger = generate()
    cfg = _config(config, sign_key_pem=SecretStr(stranger.merchant_key))  # same certId, wrong key
    with pytest.raises(ProviderError) as refused:
        await _verify(cfg, ZHANG)
    assert refused.value.code == "11"


async def test_answer_from_an_untrusted_signer_is_refused(config: AdaptersConfig, audit: Any) -> None:
    stranger = generate()
    cfg = _config(config, root_cert_pem=stranger.unionpay_root_cert, middle_cert_pem=stranger.unionpay_middle_cert)
    with pytest.raises(InvalidResponse):
        await _verify(cfg, ZHANG, audit)
    assert audit.last[2] == "invalid_response"


async def test_provider_down_is_unavailable(config: AdaptersConfig, sandbox: Sandbox) -> None:
    sandbox.faults["unionpay"].always_status = 503
    with pytest.raises(ProviderUnavailable):
        await _verify(_config(config), ZHANG)


async def test_check_proves_both_signing_directions(config: AdaptersConfig) -> None:
    async with UnionPayVerifier(_config(config)) as verifier:
        result = await verifier.check()
    assert result.ok, result.detail
