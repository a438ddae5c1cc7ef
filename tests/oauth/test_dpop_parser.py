"""The DPoP proof parser under arbitrary input: anything malformed is a clean DPoPError (invalid_dpop_proof),
never another exception (which the app would answer with a 500). Also the nonce rotation and htu rules."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import ECKey

from idp.oauth import dpop

URL = "https://idp.example/token"
KEY = ECKey.generate_key("P-256")


class SetReplay:
    """An in-process replay store (the port's contract, for a single-process unit test)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def first_use(self, key: str, expires_at: int) -> bool:
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def _verifier() -> dpop.Verifier:
    return dpop.Verifier(dpop.Nonces(lambda text: "ab" * 32, 300), SetReplay(), 300, 30)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_refused_cleanly(value: str) -> None:
    with pytest.raises(dpop.DPoPError):
        _verifier().check({"dpop": value}, "POST", URL)


@settings(max_examples=300, deadline=None)
@given(header=json_values, claims=json_values, signature=st.binary(max_size=80))
def test_any_json_parts_are_refused_cleanly(header: object, claims: object, signature: bytes) -> None:
    token = ".".join(_b64(part) for part in (json.dumps(header).encode(), json.dumps(claims).encode(), signature))
    with pytest.raises(dpop.DPoPError):
        _verifier().check({"dpop": token}, "POST", URL)


@settings(max_examples=200, deadline=None)
@given(
    typ=st.sampled_from(["dpop+jwt", "JWT", ""]),
    htm=st.sampled_from(["POST", "GET", "post"]),
    htu=st.sampled_from([URL, URL + "?q=1#f", "https://IDP.example:443/token", "https://idp.example/other", "x"]),
    iat=st.one_of(st.integers(-(2**40), 2**40), st.text(max_size=5), st.none(), st.booleans()),
    jti=st.one_of(st.text(max_size=300), st.integers(), st.none()),
)
def test_signed_proofs_with_arbitrary_claims_pass_or_fail_cleanly(
    typ: str, htm: str, htu: str, iat: object, jti: object
) -> None:
    claims = {"htm": htm, "htu": htu, "iat": iat, "jti": jti}
    token = jws.serialize_compact(
        {"typ": typ, "alg": "ES256", "jwk": KEY.as_dict(private=False)}, json.dumps(claims).encode(), KEY
    )
    now = int(time.time())
    valid = (
        typ == "dpop+jwt"
        and htm == "POST"
        and htu in (URL, URL + "?q=1#f", "https://IDP.example:443/token")
        and isinstance(iat, int)
        and not isinstance(iat, bool)
        and now - 300 <= iat <= now + 30
        and isinstance(jti, str)
        and 0 < len(jti) <= 256
    )
    if valid:
        assert _verifier().check({"dpop": token}, "POST", URL).jkt == KEY.thumbprint()
    else:
        with pytest.raises(dpop.DPoPError):
            _verifier().check({"dpop": token}, "POST", URL)


def test_nonces_rotate_and_the_previous_one_stays_good_for_one_window() -> None:
    nonces = dpop.Nonces(lambda text: hashlib.sha256(text.encode()).hexdigest(), 300)
    start = 1_800_000_000 - 1_800_000_000 % 300
    first = nonces.current(start)
    assert nonces.valid(first, start + 299) and nonces.valid(first, start + 300)
    assert not nonces.valid(first, start + 600) and nonces.current(start + 300) != first
    with time_machine.travel(start + 10, tick=False):
        assert nonces.valid(nonces.current())


def test_a_thumbprint_is_43_base64url_characters_of_sha256() -> None:
    assert dpop.is_thumbprint(KEY.thumbprint())
    assert not dpop.is_thumbprint("x" * 42) and not dpop.is_thumbprint("+" * 43)


def test_redis_replay_store_refuses_a_second_use() -> None:
    """Several workers share the jti store through Redis (DB 13, a key prefix of this test's own)."""
    import secrets

    import redis

    url = "redis://127.0.0.1:6379/13"
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    prefix = f"yw-test-dpop-{secrets.token_hex(4)}:"
    one, other = dpop.RedisReplay(url, prefix), dpop.RedisReplay(url, prefix)
    expires = int(time.time()) + 30
    assert one.first_use("k", expires) is True
    assert other.first_use("k", expires) is False
    assert other.first_use("k2", expires) is True
