"""Aliyun RPC signature v1: the published example, round trips, tampering, percent-encoding properties."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from adapters import rpc_v1

# Alibaba Cloud's documented example ("Request signatures", RPC API; ECS DescribeRegions): AccessKeyId
# `testid`, AccessKeySecret `testsecret`; the documentation prints this StringToSign and this signature.
EXAMPLE = {
    "TimeStamp": "2016-02-23T12:46:24Z",
    "Format": "XML",
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}
EXAMPLE_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"
    "%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)
EXAMPLE_SIGNATURE = "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_published_example_string_to_sign() -> None:
    assert rpc_v1.string_to_sign(EXAMPLE) == EXAMPLE_STRING_TO_SIGN


def test_published_example_signature() -> None:
    assert rpc_v1.signature("testsecret", EXAMPLE_STRING_TO_SIGN) == EXAMPLE_SIGNATURE
    assert rpc_v1.sign_params(EXAMPLE, "testsecret")["Signature"] == EXAMPLE_SIGNATURE


def test_signed_params_verify_and_any_change_is_refused() -> None:
    signed = rpc_v1.sign_params({**EXAMPLE, "PhoneNumbers": "13800138001", "TemplateParam": '{"code":"123456"}'}, "s")
    assert rpc_v1.verify_params(signed, "s")
    assert not rpc_v1.verify_params(signed, "other-secret")
    assert not rpc_v1.verify_params({**signed, "TemplateParam": '{"code":"654321"}'}, "s")
    assert not rpc_v1.verify_params({**signed, "Extra": "1"}, "s")
    assert not rpc_v1.verify_params(signed, "s", method="POST")
    unsigned = dict(signed)
    del unsigned["Signature"]
    assert not rpc_v1.verify_params(unsigned, "s")


def test_percent_encoding_rules() -> None:
    assert rpc_v1.percent_encode("a b*c~d") == "a%20b%2Ac~d"
    assert rpc_v1.percent_encode("一") == "%E4%B8%80"
    assert rpc_v1.percent_encode("-_.") == "-_."
    assert rpc_v1.percent_encode("+/=:&") == "%2B%2F%3D%3A%26"


@given(st.text())
def test_percent_encode_is_reversible_and_only_keeps_unreserved(value: str) -> None:
    encoded = rpc_v1.percent_encode(value)
    assert unquote(encoded, errors="surrogatepass") == value
    plain = encoded.replace("%", "")
    assert all(c.isascii() and (c.isalnum() or c in "-_.~") for c in plain)


@given(st.dictionaries(st.text(min_size=1), st.text(), min_size=1, max_size=6))
def test_canonical_query_does_not_depend_on_order(params: dict[str, str]) -> None:
    reordered = dict(reversed(list(params.items())))
    assert rpc_v1.canonical_query(params) == rpc_v1.canonical_query(reordered)
    assert rpc_v1.verify_params(rpc_v1.sign_params(params, "k"), "k")
