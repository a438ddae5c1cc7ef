"""The Redis connection behind the shared limits and replay checks, and what its absence means: fail closed.

A counter or a replay mark in Redis is a security decision (an SMS budget, a DPoP proof seen once, a guess
limit). With Redis unreachable, a request that needs one is refused with a 503 (`LimitsUnavailable`) — never
let through uncounted, and never a 500. Short timeouts keep a hung Redis from holding a worker: a request
that needs it waits about a second, then gets the 503.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from idp.errors import NotReady
from idp.logs import get_logger

TIMEOUT_S = 1.0
MESSAGE = (
    "安全校验暂时不可用，本次操作没有执行，请稍后重试。"
    "Security checks are unavailable right now; nothing was done. Please try again in a moment."
)

log = get_logger("yiwang.redis")


class LimitsUnavailable(NotReady):
    """Redis, which holds the shared limits, did not answer: the request is refused, not let through."""

    slug, title = "limits-unavailable", "Security checks unavailable"


def connect(url: str, timeout_s: float = TIMEOUT_S) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


@contextmanager
def failing_closed() -> Iterator[None]:
    """Around every Redis call that decides something: unreachable means refused."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("redis unreachable: refusing", error=type(exc).__name__)
        raise LimitsUnavailable(MESSAGE) from None
