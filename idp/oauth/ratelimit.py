"""Fixed-window rate limits shared by every worker: in Redis when configured, else in the database."""

from __future__ import annotations

import time
from typing import Protocol

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from idp.oauth import redis_link
from idp.oauth.models import RateCounter
from keys.protector import Protector


class Counters(Protocol):
    def hit(self, key: str, window: int, session: Session | None = None) -> int:
        """Count one event for `key` in the current `window`-second window; return the count so far.
        With `session`, a database counter joins the caller's unit of work instead of opening its own."""


class DatabaseCounters:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def hit(self, key: str, window: int, session: Session | None = None) -> int:
        """One atomic upsert per hit (INSERT … ON CONFLICT DO UPDATE … RETURNING), on both backends."""
        if session is not None:
            return _upsert(session, key, window)
        with self._sessions() as own, own.begin():
            return _upsert(own, key, window)


def _upsert(session: Session, key: str, window: int) -> int:
    start = int(time.time()) // window * window
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
    """Counters in Redis; unreachable, every limit refuses (redis_link.LimitsUnavailable, a 503)."""

    def __init__(self, url: str) -> None:
        self._redis = redis_link.connect(url)

    def hit(self, key: str, window: int, session: Session | None = None) -> int:
        start = int(time.time()) // window * window
        name = f"yw:rl:{key}:{start}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window + 5)
        with redis_link.failing_closed():
            count, _ = pipe.execute()
        return int(count)


def address(protector: Protector, host: str) -> str:
    """A client's address as a limit's key holds it: a keyed hash. Counters live up to two days and must not
    become a log of who asked from where (an IP address is personal information, PIPL art. 4)."""
    return protector.index("rate_limit_address", host)[:32]


def allowed(counters: Counters, key: str, limit: int, window: int, session: Session | None = None) -> bool:
    return counters.hit(key, window, session) <= limit


def window_left(window: int, now: float | None = None) -> int:
    """Seconds until the current fixed window ends: when a refused request may try again."""
    now = time.time() if now is None else now
    return max(1, int(window - now % window))
