"""Alipay RSA2: what is signed, and verification over the raw response member text."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from adapters import alipay_sign


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_sign_content_sorts_and_drops_sign_and_empty_values() -> None:
    params = {"method": "m", "app_id": "1", "sign": "x", "auth_token": "", "biz_content": '{"a":1}'}
    assert alipay_sign.sign_content(params) == 'app_id=1&biz_content={"a":1}&method=m'


def test_request_signature_round_trip_and_changed_field(key: rsa.RSAPrivateKey) -> None:
    params = {"app_id": "2021", "method": "alipay.user.certify.open.query", "biz_content": '{"certify_id":"c"}'}
    sig = alipay_sign.sign(params, key)
    assert alipay_sign.verify(alipay_sign.sign_content(params), sig, key.public_key())
    changed = {**params, "biz_content": '{"certify_id":"d"}'}
    assert not alipay_sign.verify(alipay_sign.sign_content(changed), sig, key.public_key())
    assert not alipay_sign.verify(alipay_sign.sign_content(params), "!!", key.public_key())


def test_response_verified_over_raw_text_not_reserialised(key: rsa.RSAPrivateKey) -> None:
    raw = '{"code":"10000","msg":"Success","passed":"T","note":"a\\/b \\u4e2d"}'
    body = f'{{"alipay_user_certify_open_query_response":{raw},"sign":"{alipay_sign.sign_text(raw, key)}"}}'
    member = alipay_sign.extract_member(body, ("alipay_user_certify_open_query_response", "error_response"))
    assert member.raw == raw
    assert member.value["passed"] == "T"
    assert member.sign is not None
    assert alipay_sign.verify(member.raw, member.sign, key.public_key())
    # Re-serialising changes escapes and spacing: a verifier that did so would reject a genuine answer.
    assert not alipay_sign.verify(json.dumps(member.value), member.sign, key.public_key())


def test_member_names() -> None:
    assert alipay_sign.response_member("alipay.system.oauth.token") == "alipay_system_oauth_token_response"
    with pytest.raises(ValueError):
        alipay_sign.extract_member('{"other_response":{}}', ("alipay_user_info_share_response",))
    with pytest.raises(ValueError):
        alipay_sign.extract_member("[1]", ("x",))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(
    member=st.dictionaries(st.text(max_size=8), _json_values, max_size=4),
    indent=st.sampled_from([None, 1]),
    ascii_only=st.booleans(),
)
def test_extract_member_returns_exactly_the_member_text(
    member: dict[str, object], indent: int | None, ascii_only: bool
) -> None:
    raw = json.dumps(member, indent=indent, ensure_ascii=ascii_only)
    body = '{ "before": [1, {"x": "}"}],\n "m_response" : ' + raw + ' , "sign":"abc" }'
    found = alipay_sign.extract_member(body, ("m_response",))
    assert found.raw == raw
    assert found.value == member
    assert found.sign == "abc"
