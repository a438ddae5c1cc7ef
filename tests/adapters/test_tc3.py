"""TC3-HMAC-SHA256: Tencent Cloud's published example, round trips, tampering, header parsing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters import tc3

# Tencent Cloud API 3.0 "Signature v3" documented example: CVM DescribeInstances, SecretId
# AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE, SecretKey Gu5t9xGARNpq86cd98joQYCN3EXAMPLE, X-TC-Timestamp 1551113065.
# The documentation prints the payload hash, the hashed canonical request and the signature below.
SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
TIMESTAMP = 1551113065
PAYLOAD = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
HEADERS = {"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com"}
CANONICAL = (
    "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
    "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
)
STRING_TO_SIGN = (
    "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
    "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
)
SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def _canonical(headers: dict[str, str] = HEADERS, payload: bytes = PAYLOAD) -> str:
    return tc3.canonical_request("POST", "/", "", headers, ["content-type", "host"], payload)


def test_published_example() -> None:
    assert _canonical() == CANONICAL
    assert tc3.string_to_sign(TIMESTAMP, "cvm", CANONICAL) == STRING_TO_SIGN
    assert tc3.signature(SECRET_KEY, TIMESTAMP, "cvm", CANONICAL) == SIGNATURE
    assert tc3.authorization(SECRET_ID, SECRET_KEY, TIMESTAMP, "cvm", CANONICAL) == (
        f"TC3-HMAC-SHA256 Credential={SECRET_ID}/2019-02-25/cvm/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={SIGNATURE}"
    )


def test_date_is_utc_not_local() -> None:
    # 1551113065 is 2019-02-26 00:44:25 in Beijing but 2019-02-25 in UTC: the scope must say the 25th.
    assert tc3.credential_scope(TIMESTAMP, "sms") == "2019-02-25/sms/tc3_request"


def test_changed_body_header_or_key_changes_the_signature() -> None:
    base = tc3.signature(SECRET_KEY, TIMESTAMP, "sms", _canonical())
    assert tc3.signature(SECRET_KEY, TIMESTAMP, "sms", _canonical(payload=PAYLOAD + b" ")) != base
    assert tc3.signature(SECRET_KEY, TIMESTAMP, "sms", _canonical({**HEADERS, "Host": "evil.example"})) != base
    assert tc3.signature(SECRET_KEY + "x", TIMESTAMP, "sms", _canonical()) != base
    assert tc3.signature(SECRET_KEY, TIMESTAMP + 1, "sms", _canonical()) != base


def test_header_names_and_values_are_case_insensitive() -> None:
    upper = {"CONTENT-TYPE": "Application/JSON; charset=UTF-8", "HOST": "CVM.tencentcloudapi.com"}
    assert _canonical(upper) == CANONICAL


@given(
    secret_id=st.from_regex(r"AKID[A-Za-z0-9]{8,32}", fullmatch=True),
    ts=st.integers(min_value=0, max_value=4_000_000_000),
    service=st.from_regex(r"[a-z]{2,8}", fullmatch=True),
)
def test_authorization_header_parses_back(secret_id: str, ts: int, service: str) -> None:
    header = tc3.authorization(secret_id, "key", ts, service, _canonical())
    parsed = tc3.parse_authorization(header)
    assert parsed is not None
    assert (parsed.secret_id, parsed.date, parsed.service) == (secret_id, tc3.utc_date(ts), service)
    assert parsed.signed_headers == ["content-type", "host"]
    assert parsed.signature == tc3.signature("key", ts, service, _canonical())


@given(st.text(max_size=200))
def test_parse_authorization_never_crashes(header: str) -> None:
    parsed = tc3.parse_authorization(header)
    assert parsed is None or parsed.signature in header
