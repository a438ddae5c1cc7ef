"""Fixed-window rate limits shared by every worker: in Redis when configured, else in the database."""

from __future__ import annotations

import time
from typing import Protocol

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from idp.oauth.models import RateCounter


class Counters(Protocol):
    def hit(self, key: str, window: int) -> int:
        """Count one event for `key` in the current `window`-second window; return the count so far."""


class DatabaseCounters:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def hit(self, key: str, window: int) -> int:
        """One atomic upsert per hit (INSERT … ON CONFLICT DO UPDATE … RETURNING), on both backends."""
        start = int(time.time()) // window * window
        with self._sessions() as session, session.begin():
            dialect = session.get_bind().dialect.name
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            upsert = (
                insert(RateCounter)
                .values(key=key, window_start=start, count=1)
                .on_conflict_do_update(
                    index_elements=[RateCounter.key, RateCounter.window_start],
                    set_={"count": RateCounter.count + 1},
                )
                .returning(RateCounter.count)
            )
            return int(session.execute(upsert).scalar_one())


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
