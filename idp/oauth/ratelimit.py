"""Fixed-window rate limits shared by every worker: in Redis when configured, else in the database."""

from __future__ import annotations

import time
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from idp.oauth.models import RateCounter


class Counters(Protocol):
    def hit(self, key: str, window: int) -> int:
        """Count one event for `key` in the current `window`-second window; return the count so far."""


class DatabaseCounters:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def hit(self, key: str, window: int) -> int:
        start = int(time.time()) // window * window
        for _ in range(3):
            try:
                with self._sessions() as session, session.begin():
                    result = session.execute(
                        update(RateCounter)
                        .where(RateCounter.key == key, RateCounter.window_start == start)
                        .values(count=RateCounter.count + 1)
                    )
                    if result.rowcount == 0:  # type: ignore[attr-defined]
                        session.add(RateCounter(key=key, window_start=start, count=1))
                        session.flush()
                    count = session.scalar(
                        select(RateCounter.count).where(RateCounter.key == key, RateCounter.window_start == start)
                    )
                    return int(count or 0)
            except IntegrityError:
                continue  # a concurrent first hit created the row: count again
        raise RuntimeError("rate counter contention")


class RedisCounters:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def hit(self, key: str, window: int) -> int:
        start = int(time.time()) // window * window
        name = f"yw:rl:{key}:{start}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window + 5)
        count, _ = pipe.execute()
        return int(count)


def allowed(counters: Counters, key: str, limit: int, window: int) -> bool:
    return counters.hit(key, window) <= limit
