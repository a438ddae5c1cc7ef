"""Our registry protocol's HMAC rules (adapters/population-registry.md)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters import registry_protocol as rp

SECRET = b"s3cret"
NONCE = "0" * 32


def test_request_header_round_trip_and_tampering() -> None:
    header = rp.authorization_header("key-1", SECRET, "POST", "/registry/v1/verify", 1700000000, NONCE, b"{}")
    auth = rp.parse_authorization(header)
    assert auth is not None and (auth.key_id, auth.timestamp, auth.nonce) == ("key-1", 1700000000, NONCE)
    text = rp.request_string("POST", "/registry/v1/verify", 1700000000, NONCE, b"{}")
    assert rp.matches(SECRET, text, auth.signature)
    for changed in (
        rp.request_string("POST", "/registry/v1/verify", 1700000000, NONCE, b'{"a":1}'),
        rp.request_string("POST", "/v1/verify", 1700000000, NONCE, b"{}"),
        rp.request_string("GET", "/registry/v1/verify", 1700000000, NONCE, b"{}"),
        rp.request_string("POST", "/registry/v1/verify", 1700000001, NONCE, b"{}"),
        rp.request_string("POST", "/registry/v1/verify", 1700000000, "1" * 32, b"{}"),
    ):
        assert not rp.matches(SECRET, changed, auth.signature)
    assert not rp.matches(b"other", text, auth.signature)


def test_response_is_bound_to_the_request_nonce() -> None:
    header = rp.response_header(SECRET, NONCE, 200, 1700000000, b'{"result":"match"}')
    parsed = rp.parse_response_header(header)
    assert parsed is not None
    ts, sig = parsed
    assert rp.matches(SECRET, rp.response_string(NONCE, 200, ts, b'{"result":"match"}'), sig)
    assert not rp.matches(SECRET, rp.response_string("1" * 32, 200, ts, b'{"result":"match"}'), sig)
    assert not rp.matches(SECRET, rp.response_string(NONCE, 200, ts, b'{"result":"mismatch"}'), sig)
    assert not rp.matches(SECRET, rp.response_string(NONCE, 401, ts, b'{"result":"match"}'), sig)


@given(st.text(max_size=300))
def test_header_parsers_never_crash(text: str) -> None:
    assert rp.parse_authorization(text) is None or text.strip().startswith(rp.SCHEME)
    rp.parse_response_header(text)
