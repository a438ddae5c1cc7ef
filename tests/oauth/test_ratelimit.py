"""Rate-limit counters shared across workers: in the database, and in Redis when configured."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from sqlalchemy import select

from idp.authn import device, stepup
from idp.authn.engine import Engine
from idp.oauth.dpop import RedisReplay
from idp.oauth.models import RateCounter
from idp.oauth.provider import Provider
from idp.oauth.ratelimit import Counters, DatabaseCounters, RedisCounters, address, allowed
from idp.oauth.redis_link import LimitsUnavailable
from idp.runtime import Runtime
from tests.conftest import IN_CI
from tests.kit.served import free_port
from tests.oauth.conftest import Bench

REDIS_URL = os.environ.get("YIWANG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_or_skip() -> RedisCounters:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError as exc:
        if IN_CI:
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc} (CI must run the Redis tests)")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return RedisCounters(REDIS_URL)


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def counters(request: pytest.FixtureRequest, rt: Runtime) -> Counters:
    if request.param == "redis":
        return _redis_or_skip()
    return DatabaseCounters(rt.sessions)


def test_limit_allows_then_refuses(counters: Counters) -> None:
    key = f"test:{uuid.uuid4()}"
    assert [allowed(counters, key, 3, 60) for _ in range(5)] == [True, True, True, False, False]


def test_counts_are_exact_under_concurrency(counters: Counters) -> None:
    key = f"test:{uuid.uuid4()}"
    seen: list[int] = []

    def hit() -> None:
        for _ in range(10):
            seen.append(counters.hit(key, 60))

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(1, 41))


def test_an_unreachable_redis_refuses_instead_of_counting_nothing() -> None:
    """Fail closed: no Redis listens on this port, so every hit (and DPoP replay check) is a LimitsUnavailable
    (a 503), never a count of zero or a bare connection error (a 500)."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(LimitsUnavailable):
        RedisCounters(url).hit("test:down", 60)
    with pytest.raises(LimitsUnavailable):
        RedisReplay(url).first_use("test:down", 2**31)


def test_counters_name_a_client_address_only_by_its_keyed_hash(bench: Bench) -> None:
    """A code sent, a device code guessed and an identity check tried count against the client's address, which
    the counters (kept up to two days) hold only as a keyed hash: the address itself appears in no key."""
    bench.tokens()  # a sign-in with an SMS code from a new device: the per-address budgets are spent
    host = "testclient"  # the address Starlette's test client connects from
    engine = Engine(Provider(bench.rt, bench.client.app.state.adapters))  # type: ignore[attr-defined]
    ip = "203.0.113.9"
    device.enter(engine, "BCDF-GHJK", "a-browser", None, ip)
    assert stepup.attempt(engine, "registry", "a-person", ip) is None
    with bench.rt.transaction() as session:
        keys = session.scalars(select(RateCounter.key)).all()
    assert f"sms:ip:{address(bench.rt.protector, host)}" in keys
    assert f"device:ip:{address(bench.rt.protector, ip)}" in keys
    assert f"idm:ip:{address(bench.rt.protector, ip)}:h" in keys
    assert not [key for key in keys if host in key or ip in key]
