"""The database engine, the declarative base, and the one way to run a unit of work (a transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

# The declarative base and column conventions are shared with `signing` and `keys` (see keys/schema.py).
from keys.schema import NAMING, Base, UTCDateTime, new_id, utcnow

__all__ = [
    "NAMING",
    "Base",
    "UTCDateTime",
    "make_engine",
    "new_id",
    "read_only",
    "session_factory",
    "transaction",
    "utcnow",
]


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts the database and survives a process crash; a power cut may lose the last
    # commits. FULL would fsync every commit, which is what limits SQLite's write rate.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock at BEGIN: a deferred transaction that later writes can fail with
    # "database is locked" without waiting, which would break concurrent audit appends. Readers marked
    # `read_only` don't, so a read inside a writer's thread (a key reload) cannot wait on that writer.
    read_only = conn.get_execution_options().get("read_only", False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # No pool: a connection is opened per unit of work (cheap for a file). A pool smaller than the thread
        # count deadlocks SQLite: a writer holding the lock that needs a second connection (a cache refresh)
        # waits for the pool, whose connections all belong to threads waiting for that writer's lock.
        memory = not parsed.database or parsed.database == ":memory:"
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "isolation_level": None},
            poolclass=None if memory else NullPool,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection for reads that must not wait behind (or block) writers."""
    with engine.connect().execution_options(read_only=True) as conn, conn.begin():
        yield conn


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back everything if it raises."""
    with factory() as session, session.begin():
        yield session
